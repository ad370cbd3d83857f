// The package as a user gets it: `npm pack`, then `npm install
// --ignore-scripts` of the tarball into an empty directory, on a PATH that
// holds node and npm and no compiler, then a capture on lo from there.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { npmPackage } from './helpers/debian';
import { describeLive } from './helpers/live';
import { muslEnv, muslLibraries } from './helpers/musl';
import { ROOT } from './helpers/traffic';

const { RUNTIMES } = require('../scripts/install-runtimes') as { RUNTIMES: Record<string, { version: string }> };

let dir: string;
let tarball: string;
let files: string[];
let sizes: Map<string, number>;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-package-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  tarball = path.join(dir, packed[0].filename);
  files = packed[0].files.map((f: { path: string }) => f.path);
  sizes = new Map(packed[0].files.map((f: { path: string; size: number }) => [f.path, f.size]));
}, 120000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the tarball holds dist/, every prebuild and the sources for a local build, and no build leftovers', () => {
  expect(files).toEqual(
    expect.arrayContaining([
      'dist/index.js',
      'dist/index.mjs',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/stream/generated/packet_streaming.js',
      'prebuilds/linux-x64/wirecap.glibc.node',
      'prebuilds/linux-arm64/wirecap.glibc.node',
      'prebuilds/linux-arm/wirecap.armv7.glibc.node',
      'prebuilds/linux-x64/wirecap.musl.node',
      'prebuilds/linux-arm64/wirecap.musl.node',
      'prebuilds/linux-x64/wirecap-helper',
      'prebuilds/linux-arm64/wirecap-helper',
      'prebuilds/linux-arm/wirecap-helper',
      'prebuilds/linux-x64/wirecap-helper.musl',
      'prebuilds/linux-arm64/wirecap-helper.musl',
      'prebuilds/win32-x64/wirecap.node',
      'prebuilds/darwin-x64/wirecap.node',
      'prebuilds/darwin-arm64/wirecap.node',
      'prebuilds/win32-arm64/wirecap.node',
      'binding.gyp',
      'src-native/loader/pcap_api.cc',
      'proto/packet_streaming.proto',
    ]),
  );
  expect(files.filter((f) => /^(build|checked|test|bench|scripts|\.ci|\.github|node_modules)\//.test(f) || f.endsWith('.tgz'))).toEqual([]);
});

test('the tarball with every prebuild stays small: its size and each prebuild are reported, all stripped', () => {
  const prebuilds = [...sizes].filter(([f]) => f.startsWith('prebuilds/') && f.endsWith('.node'));
  const compressed = fs.statSync(tarball).size;
  const unpacked = [...sizes.values()].reduce((a, b) => a + b, 0);
  const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
  console.log(
    [`tarball ${kib(compressed)} (${kib(unpacked)} unpacked, ${files.length} files)`, ...prebuilds.map(([f, n]) => `  ${f} ${kib(n)}`)].join('\n'),
  );
  expect(prebuilds.length).toBeGreaterThanOrEqual(6);
  // The largest, darwin-arm64, is 956 KiB stripped and dead-stripped (1,027 KiB without -dead_strip); left unstripped it was 1,176 KiB when it was 864.
  for (const [f, n] of prebuilds) expect([f, n < 1024 * 1024]).toEqual([f, true]);
  expect(compressed).toBeLessThan(4 * 1024 * 1024);
});

describeLive('installed from the tarball with --ignore-scripts and no compiler', () => {
  /** The capture that both runs below make from the installed package, printing the addon it loaded. */
  let script = '';
  test('loads its prebuild and captures on lo', () => {
    const app = path.join(dir, 'app');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(app);
    fs.mkdirSync(bin);
    // node and npm only: no cc, c++, make or python to fall back on.
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim(), path.join(bin, 'npm'));
    const env = { PATH: bin, HOME: process.env.HOME ?? '/root' };
    for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0);
    }
    fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "private": true }');
    const install = spawnSync(path.join(bin, 'npm'), ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], {
      cwd: app,
      env,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(install.stderr).not.toMatch(/ERR!/);
    expect(install.status).toBe(0);
    expect(fs.existsSync(path.join(app, 'node_modules', 'wirecap', 'build'))).toBe(false);

    script = `
      const dgram = require('node:dgram');
      const wirecap = require('wirecap');
      const addon = require('node-gyp-build').path(require('node:path').dirname(require.resolve('wirecap/package.json')));
      (async () => {
        const sink = dgram.createSocket('udp4');
        await new Promise((r) => sink.bind(0, '127.0.0.1', r));
        const port = sink.address().port;
        const cap = wirecap.openLive('lo', { filter: 'udp and dst port ' + port, timeoutMs: 10 });
        const tx = dgram.createSocket('udp4');
        for (let i = 0; i < 5; i++) await new Promise((r) => tx.send('packaged ' + i, port, '127.0.0.1', r));
        let n = 0;
        for await (const p of cap) if (++n === 5) break;
        console.log(JSON.stringify({ addon, n, version: wirecap.libVersion() }));
        tx.close();
        sink.close();
      })();`;
    const run = spawnSync(path.join(bin, 'node'), ['-e', script], { cwd: app, env, encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout);
    expect(result.addon).toMatch(/prebuilds\/linux-x64\/wirecap\.glibc\.node$/);
    expect(result.n).toBe(5);
    expect(result.version).toMatch(/^libpcap version/);

    // The capture helper ships beside it, executable, and captures.
    const helper = path.join(app, 'node_modules', 'wirecap', 'prebuilds', 'linux-x64', 'wirecap-helper');
    expect(fs.statSync(helper).mode & 0o111).not.toBe(0);
    const through = spawnSync(path.join(bin, 'node'), ['-e', script.replace("timeoutMs: 10 }", "timeoutMs: 10, helper: true }")], { cwd: app, env, encoding: 'utf8', timeout: 20000 });
    expect(through.stderr).toBe('');
    expect(JSON.parse(through.stdout).n).toBe(5);

    // The same prebuild on a system whose libpcap is libpcap.so.1 (most
    // distributions but Debian's family): a copy under that name comes first.
    const lib = path.join(dir, 'lib');
    fs.mkdirSync(lib);
    fs.copyFileSync(fs.realpathSync('/usr/lib/x86_64-linux-gnu/libpcap.so.0.8'), path.join(lib, 'libpcap.so.1'));
    const maps = `const v = require('wirecap').libVersion(); console.log(JSON.stringify({ v, maps: require('node:fs').readFileSync('/proc/self/maps', 'utf8') }));`;
    const so1 = spawnSync(path.join(bin, 'node'), ['-e', maps], { cwd: app, env: { ...env, LD_LIBRARY_PATH: lib }, encoding: 'utf8', timeout: 20000 });
    const loaded = JSON.parse(so1.stdout);
    expect(loaded.v).toMatch(/^libpcap version/);
    expect(loaded.maps).toContain(path.join(lib, 'libpcap.so.1'));
  });

  test('its linux-x64 musl build loads under Bun\u2019s musl build and captures on lo', () => {
    const app = path.join(dir, 'app');
    expect(fs.existsSync(path.join(app, 'node_modules', 'wirecap'))).toBe(true);
    const bun = path.join(npmPackage('@oven/bun-linux-x64-musl', RUNTIMES.bun.version), 'bin', 'bun');
    const env = { PATH: '/nonexistent', HOME: process.env.HOME ?? '/root', ...muslEnv('x86_64', muslLibraries('x86_64', ['/usr/lib/x86_64-linux-gnu'])) };
    const run = spawnSync(bun, ['-e', script], { cwd: app, env, encoding: 'utf8', timeout: 30000 });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout);
    expect(result.addon).toMatch(/prebuilds\/linux-x64\/wirecap\.musl\.node$/);
    expect(result.n).toBe(5);
  }, 600000);
});
