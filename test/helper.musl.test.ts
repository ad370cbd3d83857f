// The linux-x64 musl capture helper (prebuilds/linux-x64/wirecap-helper.musl)
// run for real on this host by Debian's musl loader. The helper starts with
// an empty environment, so it finds libpcap the way a musl system does: by
// musl's path file, which each run here replaces inside a mount namespace of
// its own (/etc/ld-musl-x86_64.path bind-mounted, as an Alpine admin would
// list a library folder; the host's file is untouched), pointing at libpcap
// built for musl (scripts/musl-libpcap.sh).
// - Under Bun's musl build with the musl addon, as root: helper.ts picks
//   wirecap-helper.musl, which captures on lo with the kernel's counters.
// - As an unprivileged user (helpers/unprivileged.ts), through a copy that
//   `wirecap grant` granted: musl's loader runs it in secure mode, and it
//   still finds libpcap by the path file and captures; and musl's loader
//   ignores LD_PRELOAD and LD_LIBRARY_PATH for it, as glibc's does.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { npmPackage } from './helpers/debian';
import { describeLive } from './helpers/live';
import { muslEnv, muslLibraries } from './helpers/musl';
import { helperSeen, passed, runSmoke, smokeApp } from './helpers/smoke';
import { stagePackage } from './helpers/stage';
import { ROOT } from './helpers/traffic';
import { Unprivileged, cliAsRoot, makeUnprivileged, markerLibrary } from './helpers/unprivileged';

const { RUNTIMES } = require('../scripts/install-runtimes') as { RUNTIMES: Record<string, { version: string }> };
const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
const PATH_FILE = '/etc/ld-musl-x86_64.path';
const HELPER = path.join(ROOT, 'prebuilds', 'linux-x64', 'wirecap-helper.musl');
const missing = [MUSL_LOADER, PATH_FILE, HELPER, path.join(ROOT, 'prebuilds', 'linux-x64', 'wirecap.musl.node')].filter((f) => !fs.existsSync(f));
if (missing.length > 0) console.warn(`musl helper tests skipped: missing ${missing.join(', ')} (scripts/setup.sh, scripts/prebuild.sh)`);
const describeMusl = missing.length === 0 ? describeLive : describe.skip;

describeMusl('the linux-x64 musl capture helper, run by musl\u2019s loader', () => {
  let stage: string;
  let lib: string;
  let pathFile: string;
  let u: Unprivileged;
  /** A copy of the musl helper granted with `wirecap grant --group <u's group>`. */
  let granted: string;
  /** argv run in a private mount namespace whose musl path file lists musl's own folders and lib. */
  const inNamespace = (argv: string[]): string[] => [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mount --bind "$0" /etc/ld-musl-x86_64.path && exec "$@"',
    pathFile,
    ...argv,
  ];

  beforeAll(() => {
    const packageDir = stagePackage();
    const dir = path.join(packageDir, 'prebuilds', 'linux-x64');
    for (const f of fs.readdirSync(dir)) if (!/\.musl(\.node)?$/.test(f)) fs.rmSync(path.join(dir, f));
    stage = path.dirname(packageDir);
    fs.chmodSync(stage, 0o755); // the unprivileged user reads the path file and libpcap here
    lib = path.join(stage, 'lib');
    fs.mkdirSync(lib);
    const muslPcap = execFileSync('bash', [path.join(ROOT, 'scripts', 'musl-libpcap.sh'), 'x86_64'], { encoding: 'utf8' }).trim();
    fs.copyFileSync(path.join(muslPcap, 'libpcap.so.1'), path.join(lib, 'libpcap.so.1'));
    pathFile = path.join(stage, 'ld-musl-x86_64.path');
    fs.writeFileSync(pathFile, `${fs.readFileSync(PATH_FILE, 'utf8').trim()}\n${lib}\n`, { mode: 0o644 });
    u = makeUnprivileged('musl');
    granted = path.join(u.dir, 'wirecap-helper.musl');
    fs.copyFileSync(HELPER, granted);
    cliAsRoot(granted, 'grant', '--group', u.group);
  }, 900000);
  afterAll(() => {
    u?.remove();
    if (stage) fs.rmSync(stage, { recursive: true, force: true });
  });

  test('under Bun\u2019s musl build, helper: true captures on lo through wirecap-helper.musl, which loaded musl\u2019s libc and libpcap', async () => {
    const app = smokeApp(stage, path.join(stage, 'wirecap'));
    const bun = path.join(npmPackage('@oven/bun-linux-x64-musl', RUNTIMES.bun.version), 'bin', 'bun');
    // Bun's environment is set by env(1) inside: its preloaded shim is for musl programs, not for unshare and sh.
    const env = Object.entries(muslEnv('x86_64', muslLibraries('x86_64', ['/usr/lib/x86_64-linux-gnu']))).map(([k, v]) => `${k}=${v}`);
    const [cmd, ...args] = inNamespace(['env', ...env, bun, 'smoke.cjs', stage, 'helper']);
    const run = await runSmoke(cmd, args, app, { PATH: process.env.PATH, HOME: process.env.HOME });
    expect({ results: run.results, code: run.code }).toEqual({ results: passed(['helper']), code: 0 });
    const seen = helperSeen(run.stdout);
    expect(seen.exe).toBe(path.join(stage, 'wirecap', 'prebuilds', 'linux-x64', 'wirecap-helper.musl'));
    expect(seen.mapped).toEqual([path.join(lib, 'libpcap.so.1'), '/usr/lib/x86_64-linux-musl/libc.so'].sort());
  }, 120000);

  test('as an unprivileged user, a granted copy of it captures on lo, musl libpcap found through the path file alone', async () => {
    expect(execFileSync('getcap', [granted], { encoding: 'utf8' })).toMatch(/cap_net_admin,cap_net_raw=ep/);
    const app = smokeApp(path.join(stage, 'user'), ROOT);
    const [cmd, ...args] = inNamespace([...u.wrapper, process.execPath, 'smoke.cjs', u.outDir, 'helper']);
    const run = await runSmoke(cmd, args, app, { PATH: process.env.PATH, WIRECAP_HELPER: granted });
    expect({ results: run.results, code: run.code, stderr: run.stderr }).toEqual({ results: passed(['helper']), code: 0, stderr: '' });
    // The granted helper is not dumpable: its user sees it run, not its files.
    expect(helperSeen(run.stdout)).toEqual({ exe: null, mapped: null });
  }, 120000);

  test('granted, it loads no LD_PRELOAD or LD_LIBRARY_PATH library of its user\u2019s (musl\u2019s secure mode); an ungranted copy does', () => {
    const { dir, marker, lib } = markerLibrary(u.dir, 'libpcap.so.1', (out, source) =>
      execFileSync('bash', [path.join(ROOT, 'scripts', 'zig.sh'), 'cc', '-target', 'x86_64-linux-musl', '-shared', '-fPIC', '-o', out, source]),
    );
    const plain = path.join(u.dir, 'wirecap-helper-plain.musl');
    fs.copyFileSync(HELPER, plain);
    fs.chmodSync(plain, 0o755);
    // Set by env(1) after setpriv, a glibc program that cannot preload a musl library.
    const env = [`LD_PRELOAD=${lib}`, `LD_LIBRARY_PATH=${dir}`];
    for (const helper of [granted, plain]) {
      // Started as its user, the way wirecap starts it; stdin at its end, so it stops at once.
      spawnSync(u.wrapper[0], [...u.wrapper.slice(1), 'env', ...env, helper, '--parent', String(process.pid), '--device', 'lo'], { stdio: ['pipe', 'ignore', 'ignore'], timeout: 10000 });
    }
    expect(fs.readFileSync(marker, 'utf8').split('\n').filter((l) => /wirecap-helper/.test(l))).toEqual([plain]);
  }, 120000);
});
