// The linux-x64 prebuilds on the userlands beside this host's: the musl
// build under Bun's musl build (npm's @oven/bun-linux-x64-musl, run by
// Debian's musl loader with libpcap built for musl, see helpers/musl.ts),
// and the glibc build on Debian 11's glibc 2.31, the oldest in Debian's
// archives, through that glibc's own loader with Debian 11's libpcap.
// Each runs the smoke program, live capture on lo included.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { debianRoot, npmPackage } from './helpers/debian';
import { describeLive } from './helpers/live';
import { muslEnv, muslLibraries } from './helpers/musl';
import { CHECKS, CHECKS_TITLE, expectDumpOfTen, passed, runSmoke, smokeApp } from './helpers/smoke';
import { stagePackage } from './helpers/stage';
import { ROOT } from './helpers/traffic';

const { RUNTIMES, runtimeBinary } = require('../scripts/install-runtimes') as {
  RUNTIMES: Record<string, { version: string }>;
  runtimeBinary(name: string): string;
};
const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
const PREBUILDS = path.join(ROOT, 'prebuilds', 'linux-x64');
const missing = [MUSL_LOADER, path.join(PREBUILDS, 'wirecap.musl.node'), path.join(PREBUILDS, 'wirecap.glibc.node')].filter((f) => !fs.existsSync(f));
if (missing.length > 0) console.warn(`linux-x64 userland tests skipped: missing ${missing.join(', ')} (scripts/setup.sh, scripts/prebuild.sh)`);
const describeX64 = missing.length === 0 ? describeLive : describe.skip;

/** A staged package whose linux-x64 folder holds only the prebuild named keep, so no other can be the one loaded. */
function stageWith(keep: string): { stage: string; app: string } {
  const packageDir = stagePackage();
  const dir = path.join(packageDir, 'prebuilds', 'linux-x64');
  for (const f of fs.readdirSync(dir)) if (f !== keep) fs.rmSync(path.join(dir, f));
  const stage = path.dirname(packageDir);
  return { stage, app: smokeApp(stage, packageDir) };
}

describeX64('the linux-x64 musl prebuild under Bun\u2019s musl build', () => {
  let stage: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let bun: string;
  beforeAll(() => {
    ({ stage, app } = stageWith('wirecap.musl.node'));
    const libs = muslLibraries('x86_64', ['/usr/lib/x86_64-linux-gnu']);
    bun = path.join(npmPackage('@oven/bun-linux-x64-musl', RUNTIMES.bun.version), 'bin', 'bun');
    env = { PATH: process.env.PATH, HOME: process.env.HOME, ...muslEnv('x86_64', libs) };
  }, 900000);
  afterAll(() => fs.rmSync(stage, { recursive: true, force: true }));

  test('leaves nothing but N-API unresolved in musl\u2019s libc', () => {
    const list = spawnSync(MUSL_LOADER, ['--list', path.join(PREBUILDS, 'wirecap.musl.node')], { encoding: 'utf8' });
    const unresolved = [...list.stderr.matchAll(/Error relocating [^:]+: (\S+): symbol not found/g)].map((m) => m[1]);
    expect(unresolved.length).toBeGreaterThan(0);
    expect(unresolved.filter((s) => !/^napi_/.test(s))).toEqual([]);
    expect(list.stdout).not.toMatch(/libstdc\+\+|libgcc_s|libc\.so\.6/);
  });

  test(`runs under musl, loaded with require(): ${CHECKS_TITLE}`, async () => {
    const out = fs.mkdtempSync(path.join(stage, 'musl-'));
    const run = await runSmoke(bun, ['smoke.cjs', out, ...CHECKS], app, env);
    expect({ results: run.results, code: run.code }).toEqual({ results: passed(CHECKS), code: 0 });
    expectDumpOfTen(out);
    const loaded: string[] = JSON.parse(spawnSync(bun, ['loaded.cjs'], { cwd: app, env, encoding: 'utf8' }).stdout).loaded;
    expect(loaded.filter((f) => /\.node$/.test(f))).toEqual([expect.stringMatching(/\/prebuilds\/linux-x64\/wirecap\.musl\.node$/)]);
    expect(loaded.filter((f) => /libpcap/.test(f))).toEqual([path.join(env.LD_LIBRARY_PATH as string, 'libpcap.so.1')]);
    expect(loaded.filter((f) => /libc[.-]/.test(f))).toEqual(['/usr/lib/x86_64-linux-musl/libc.so']);
  }, 120000);

  test('captures in 50 worker threads, each ended with terminate() mid-capture, leave the process capturing', async () => {
    const run = await runSmoke(bun, ['smoke.cjs', stage, 'worker'], app, env);
    expect({ results: run.results, code: run.code, stderr: run.stderr }).toEqual({ results: passed(['worker']), code: 0, stderr: '' });
  }, 120000);
});

/** Debian 11's libc, libstdc++ and libpcap with what it loads (D-Bus, systemd's library and theirs). */
const BULLSEYE = ['libc6', 'libstdc++6', 'libgcc-s1', 'libpcap0.8', 'libdbus-1-3', 'libsystemd0', 'libcap2', 'libgcrypt20', 'libgpg-error0', 'liblz4-1', 'liblzma5', 'libzstd1'];

describeX64('the linux-x64 glibc prebuild on Debian 11\u2019s glibc 2.31, under Node 18', () => {
  let stage: string;
  let app: string;
  let run: (args: string[]) => string[];
  beforeAll(() => {
    ({ stage, app } = stageWith('wirecap.glibc.node'));
    const root = debianRoot('bullseye-amd64', BULLSEYE.map((p) => `${p}:amd64/bullseye`));
    const loader = path.join(root, 'lib', 'x86_64-linux-gnu', 'ld-linux-x86-64.so.2');
    const libraryPath = ['lib', 'usr/lib'].map((d) => path.join(root, d, 'x86_64-linux-gnu')).join(':');
    run = (args) => [loader, '--library-path', libraryPath, runtimeBinary('node18'), ...args];
  }, 900000);
  afterAll(() => fs.rmSync(stage, { recursive: true, force: true }));

  test(`runs on glibc 2.31 with its libpcap: ${CHECKS_TITLE}, and workers ended with terminate()`, async () => {
    const probe = `const w = require('wirecap'); console.log(JSON.stringify({ glibc: process.report.getReport().header.glibcVersionRuntime,
      pcap: w.libVersion(), maps: require('node:fs').readFileSync('/proc/self/maps', 'utf8') }))`;
    const [loader, ...args] = run(['-e', probe]);
    const seen = JSON.parse(spawnSync(loader, args, { cwd: app, encoding: 'utf8' }).stdout);
    expect(seen.glibc).toBe('2.31');
    expect(seen.pcap).toMatch(/^libpcap version 1\.10\.0/);
    expect(seen.maps).toMatch(/prebuilds\/linux-x64\/wirecap\.glibc\.node/);
    expect(seen.maps).not.toMatch(/ \/usr\/lib\/x86_64-linux-gnu\/lib(c|stdc\+\+|pcap)\./);

    const out = fs.mkdtempSync(path.join(stage, 'bullseye-'));
    const [bin, ...rest] = run(['smoke.cjs', out, ...CHECKS, 'worker']);
    const smoke = await runSmoke(bin, rest, app, process.env, 150000);
    expect({ results: smoke.results, code: smoke.code }).toEqual({ results: passed([...CHECKS, 'worker']), code: 0 });
    expectDumpOfTen(out);
  }, 180000);
});
