/**
 * A full-system qemu VM made only from Debian packages, to run an arm or
 * arm64 prebuild for real, live capture included (qemu-user cannot: it
 * rejects AF_PACKET's socket options). Debian's armmp / arm64 kernel (AF_PACKET,
 * initrd and the serial console built in, no modules, no disk), busybox-static
 * and an initramfs holding the runtimes, their libraries and the package;
 * lo is the only interface. One boot runs every program given, one after the
 * other, each under busybox's timeout; their output comes back over the
 * serial console as tagged lines, with the smoke program's dump in base64.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { debianRoot, npmPackage } from './debian';
import { smokeApp } from './smoke';
import { ROOT } from './traffic';

export type VmArch = 'armhf' | 'arm64';

const QEMU: Record<VmArch, string[]> = {
  armhf: ['qemu-system-arm', '-M', 'virt', '-cpu', 'cortex-a15', '-m', '1024'],
  arm64: ['qemu-system-aarch64', '-M', 'virt', '-cpu', 'cortex-a57', '-m', '2048'],
};
const KERNEL: Record<VmArch, string> = { armhf: 'linux-image-armmp', arm64: 'linux-image-arm64' };

export interface VmProgram {
  name: string;
  /** The command line, run in /app. */
  argv: string[];
  env?: Record<string, string>;
  /** Seconds before busybox's timeout kills it. */
  timeout: number;
}

export interface VmRunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  dump?: Buffer;
}

/** Debian's kernel for arch, the real package behind the metapackage, unpacked; returns vmlinuz. */
export function debianKernel(arch: VmArch): string {
  const depends = execFileSync('bash', [path.join(ROOT, 'scripts', 'debian-apt.sh'), 'install', '--print-uris', '-s', '--no-install-recommends', `${KERNEL[arch]}:${arch}`], {
    encoding: 'utf8',
  });
  const image = /^Inst (linux-image-\d[^\s:]*)/m.exec(depends)?.[1];
  if (!image) throw new Error(`no kernel image behind ${KERNEL[arch]}:${arch}`);
  const root = debianRoot(`kernel-${arch}`, [`${image}:${arch}`], ['./boot/vmlinuz-*']);
  const boot = path.join(root, 'boot');
  return path.join(boot, fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) as string);
}

/** The package's runtime dependencies (no dev ones), as paths under node_modules. */
function productionModules(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const top = path.join(ROOT, 'node_modules') + path.sep;
  return out
    .split('\n')
    .filter((p) => p.startsWith(top))
    .map((p) => p.slice(top.length));
}

/**
 * Lays out the initramfs tree in dir: busybox and the given Debian roots at
 * /, the package (staged, its dependencies copied) under /app with the smoke
 * program, extra files where told, and /init running programs.
 */
export function buildInitramfs(dir: string, arch: VmArch, roots: string[], extra: Record<string, string>, programs: VmProgram[]): string {
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(tree);
  const busybox = debianRoot(`busybox-${arch}`, [`busybox-static:${arch}`]);
  for (const root of roots) execFileSync('cp', ['-a', '--no-preserve=ownership', `${root}/.`, tree]);
  for (const skip of ['usr/share', 'boot', 'etc', 'lib/modules', 'usr/lib/modules', '.packages']) fs.rmSync(path.join(tree, skip), { recursive: true, force: true });
  fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(busybox, 'bin', 'busybox'), path.join(tree, 'bin', 'busybox'));
  fs.chmodSync(path.join(tree, 'bin', 'busybox'), 0o755);
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'sbin']) fs.mkdirSync(path.join(tree, d), { recursive: true });
  for (const [to, from] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(tree, to)), { recursive: true });
    execFileSync('cp', ['-a', '--no-preserve=ownership', from, path.join(tree, to)]);
  }

  const pkg = path.join(tree, 'pkg', 'wirecap');
  fs.mkdirSync(pkg, { recursive: true });
  for (const f of ['dist', 'prebuilds', 'package.json']) fs.cpSync(path.join(ROOT, f), path.join(pkg, f), { recursive: true });
  for (const m of productionModules()) fs.cpSync(path.join(ROOT, 'node_modules', m), path.join(pkg, 'node_modules', m), { recursive: true, dereference: true });
  smokeApp(tree, '/pkg/wirecap');

  const lines = [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp',
    'ip link set lo up',
    'cd /app',
    'echo "@@up $(cat /proc/uptime)"',
  ];
  for (const p of programs) {
    const env = Object.entries(p.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const quoted = [...env, ...p.argv.map((a) => a.replace(/^@out$/, `/tmp/${p.name}`))].map((a) => `'${a}'`).join(' ');
    lines.push(
      `mkdir -p /tmp/${p.name}; start=$(cut -d. -f1 /proc/uptime)`,
      `timeout -s KILL ${p.timeout} env ${quoted} >/tmp/${p.name}.out 2>/tmp/${p.name}.err; code=$?`,
      `echo "@@exit ${p.name} $code $(( $(cut -d. -f1 /proc/uptime) - start ))"`,
      `sed 's/^/@@out ${p.name} /' /tmp/${p.name}.out; sed 's/^/@@err ${p.name} /' /tmp/${p.name}.err`,
      `[ -f /tmp/${p.name}/dump.pcap ] && base64 /tmp/${p.name}/dump.pcap | sed 's/^/@@dump ${p.name} /'`,
    );
  }
  lines.push('echo "@@done"', 'poweroff -f');
  fs.writeFileSync(path.join(tree, 'init'), `${lines.join('\n')}\n`, { mode: 0o755 });

  const initrd = path.join(dir, 'initrd.cpio');
  execFileSync('sh', ['-c', `cd "${tree}" && find . | cpio -o -H newc --quiet > "${initrd}"`]);
  fs.rmSync(tree, { recursive: true, force: true });
  return initrd;
}

/** Boots the VM and collects each program's result; kills it after timeoutMs and fails with the console's tail. */
export function bootVm(
  arch: VmArch,
  kernel: string,
  initrd: string,
  timeoutMs: number,
): Promise<{ runs: Record<string, VmRunResult>; seconds: number; bootSeconds: number; console: string }> {
  const [qemu, ...args] = QEMU[arch];
  const started = Date.now();
  const child = spawn(
    qemu,
    [...args, '-smp', '1', '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyAMA0 rdinit=/init quiet', '-nographic', '-nic', 'none', '-no-reboot'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  // Also written beside the initramfs as it comes, to watch a slow boot.
  const log = fs.createWriteStream(path.join(path.dirname(initrd), 'console.log'));
  const take = (d: Buffer): void => {
    out += d;
    log.write(d);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve, reject) =>
    child.on('close', () => {
      clearTimeout(timer);
      log.end();
      const console = out.replace(/\r/g, '');
      if (timedOut || !console.includes('@@done')) {
        reject(new Error(`${arch} VM ${timedOut ? `killed after ${timeoutMs / 1000} s` : 'stopped early'}; its console ended with:\n${console.slice(-3000)}`));
        return;
      }
      const runs: Record<string, VmRunResult> = {};
      const run = (name: string): VmRunResult => (runs[name] ??= { code: null, stdout: '', stderr: '', seconds: 0 });
      const dumps: Record<string, string> = {};
      let bootSeconds = 0;
      for (const line of console.split('\n')) {
        const m = /^@@(\w+) ?(\S*) ?(.*)$/.exec(line);
        if (!m) continue;
        const [, tag, name, rest] = m;
        if (tag === 'up') bootSeconds = Number(name);
        else if (tag === 'exit') {
          const [code, seconds] = rest.split(' ').map(Number);
          Object.assign(run(name), { code, seconds });
        } else if (tag === 'out') run(name).stdout += `${rest}\n`;
        else if (tag === 'err') run(name).stderr += `${rest}\n`;
        else if (tag === 'dump') dumps[name] = (dumps[name] ?? '') + rest;
      }
      for (const [name, b64] of Object.entries(dumps)) run(name).dump = Buffer.from(b64, 'base64');
      resolve({ runs, seconds: (Date.now() - started) / 1000, bootSeconds, console });
    }),
  );
}

export { npmPackage };
export const tmpDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
