// The built package under every runtime its users run: npm's Node 18, 20,
// 22, 24 and 26 builds, Bun and Deno (scripts/runtimes.json), which
// scripts/setup.sh installs into ~/.cache/wirecap/runtimes. Each runs the
// smoke program (test/fixtures/smoke.cjs through require(), smoke.mjs
// through import) against the package linked into node_modules, as
// `npm install <folder>` or `npm link` lays it out.
import fs from 'node:fs';
import path from 'node:path';
import { describeLive } from './helpers/live';
import { CHECKS, CHECKS_TITLE, Result, expectDumpOfTen, passed, runSmoke, smokeApp } from './helpers/smoke';
import { stagePackage } from './helpers/stage';

interface Runtime {
  package: string;
  version: string;
  bin: string;
}
const { RUNTIMES, runtimeBinary } = require('../scripts/install-runtimes') as {
  RUNTIMES: Record<string, Runtime>;
  runtimeBinary(name: string): string;
};

let stage: string;
beforeAll(() => {
  const packageDir = stagePackage();
  stage = path.dirname(packageDir);
  smokeApp(stage, packageDir);
});
afterAll(() => fs.rmSync(stage, { recursive: true, force: true }));

/** Runs the smoke program under runtime name, with a scratch folder of its own. */
async function smoke(name: string, program: string, checks: string[]): Promise<{ code: number | null; results: Result[]; stderr: string; out: string }> {
  const binary = runtimeBinary(name);
  if (!fs.existsSync(binary)) throw new Error(`${name} is not installed at ${binary}: run scripts/setup.sh (node scripts/install-runtimes.js)`);
  const out = fs.mkdtempSync(path.join(stage, `${name}-`));
  const script = [program, out, ...checks];
  const args = name === 'deno' ? ['run', '-A', '--no-lock', ...script] : script;
  const run = await runSmoke(binary, args, path.join(stage, 'app'), { ...process.env, DENO_NO_UPDATE_CHECK: '1' });
  return { ...run, out };
}

describeLive('the package under each runtime', () => {
  for (const [name, { version }] of Object.entries(RUNTIMES)) {
    describe(`${name.replace(/\d+$/, '')} ${version}`, () => {
      for (const [program, loader] of [
        ['smoke.cjs', 'require()'],
        ['smoke.mjs', 'import'],
      ]) {
        test(`loaded with ${loader}: ${CHECKS_TITLE}`, async () => {
          const run = await smoke(name, program, CHECKS);
          expect({ results: run.results, code: run.code }).toEqual({ results: passed(CHECKS), code: 0 });
          expectDumpOfTen(run.out);
        }, 120000);
      }

      test('captures in 50 worker threads, each ended with terminate() mid-capture, leave the process capturing', async () => {
        const run = await smoke(name, 'smoke.cjs', ['worker']);
        expect({ results: run.results, code: run.code, stderr: run.stderr }).toEqual({ results: passed(['worker']), code: 0, stderr: '' });
      }, 120000);
    });
  }
});
