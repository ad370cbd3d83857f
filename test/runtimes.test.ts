// The built package under every runtime its users run: npm's Node 18, 20,
// 22, 24 and 26 builds, Bun and Deno (scripts/runtimes.json), which
// scripts/setup.sh installs into ~/.cache/wirecap/runtimes. Each runs the
// smoke program (test/fixtures/smoke.cjs through require(), smoke.mjs
// through import) against the package linked into node_modules, as
// `npm install <folder>` or `npm link` lays it out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLive } from './helpers/live';
import { stagePackage } from './helpers/stage';
import { filePackets } from './helpers/tools';
import { ROOT, UDP_HEADERS } from './helpers/traffic';

interface Runtime {
  package: string;
  version: string;
  bin: string;
}
const { RUNTIMES, runtimeBinary } = require('../scripts/install-runtimes') as {
  RUNTIMES: Record<string, Runtime>;
  runtimeBinary(name: string): string;
};

/** The smoke program's checks, in order, apart from the worker's, which runs alone. */
const CHECKS = ['load', 'devices', 'live', 'dump', 'read', 'decode', 'seek', 'grpc'];
const CHECKS_TITLE = 'devices(), a filtered capture on lo with setFilter and stats, a native dump to its packet limit, batches() and for await, decode(), seeks, a gRPC stream';

let stage: string;
beforeAll(() => {
  const packageDir = stagePackage();
  stage = path.dirname(packageDir);
  const app = path.join(stage, 'app');
  fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  fs.symlinkSync(packageDir, path.join(app, 'node_modules', 'wirecap'));
  fs.writeFileSync(path.join(app, 'package.json'), '{ "private": true }\n');
  for (const f of ['smoke.cjs', 'smoke.mjs', 'smoke-checks.cjs']) fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', f), path.join(app, f));
});
afterAll(() => fs.rmSync(stage, { recursive: true, force: true }));

interface Result {
  check: string;
  ok: boolean;
  error?: string;
}

/** Runs the smoke program under runtime name; killed after 90 s so a hang fails instead of stalling. */
function smoke(name: string, program: string, checks: string[]): Promise<{ code: number | null; results: Result[]; stderr: string; out: string }> {
  const binary = runtimeBinary(name);
  if (!fs.existsSync(binary)) throw new Error(`${name} is not installed at ${binary}: run scripts/setup.sh (node scripts/install-runtimes.js)`);
  const out = fs.mkdtempSync(path.join(stage, `${name}-`));
  const script = [program, out, ...checks];
  const args = name === 'deno' ? ['run', '-A', '--no-lock', ...script] : script;
  const child = spawn(binary, args, {
    cwd: path.join(stage, 'app'),
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      const results = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Result);
      resolve({ code, results, stderr, out });
    }),
  );
}

const passed = (checks: string[]): Result[] => checks.map((check) => ({ check, ok: true }));

/** The smoke program's dump, read by tcpdump and tshark: ten datagrams in order. */
function expectDumpOfTen(out: string): void {
  const payloads = filePackets(path.join(out, 'dump.pcap')).map((p) => Buffer.from(p.hex, 'hex').subarray(UDP_HEADERS).toString());
  expect(payloads).toEqual(Array.from({ length: 10 }, (_, i) => `dump:${i}`));
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
