// replay() in the win32-x64 prebuild, in Windows node.exe under wine
// (test/helpers/wine.ts). Wine's wpcap.dll wraps the host's libpcap, so a
// Windows replay onto the root end of a veth pair arrives at its far end,
// where tcpdump captures it. Wine's wpcap has neither pcap_inject nor the
// send queues (the loader treats its stubs as missing): the mode that runs
// there is 'sendpacket', and the result says so. The device's MTU comes
// from the IP helper API (GetAdaptersAddresses), which wine answers too.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeNetns, Netns } from './helpers/netns';
import { capturePeer } from './helpers/peer';
import { FRAME_FILTER, frame, frames, indexOf } from './helpers/frames';
import { pcapBytes, referenceRead } from './helpers/trace';
import { windowsNode, WindowsNode, windowsUnavailable } from './helpers/wine';

const unavailable = windowsUnavailable();
if (unavailable !== null) console.warn(`Windows replay tests skipped: ${unavailable}`);
const describeWindows = unavailable === null && process.getuid?.() === 0 ? describe : describe.skip;

jest.setTimeout(180000);

let win: WindowsNode;
let ns: Netns;
let dir: string;

describeWindows('replay in the Windows build under wine', () => {
  beforeAll(() => {
    win = windowsNode();
    ns = makeNetns(1, 'rw', 3);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-replay-win-'));
  });
  afterAll(() => {
    win?.close();
    ns?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("replays a file onto a veth pair byte for byte, paced, and says which send path ran ('sendpacket' where the library has no send queues)", async () => {
    const device = ns.pairs[0].device;
    const file = path.join(dir, 'win.pcap');
    fs.writeFileSync(file, pcapBytes(frames(60, 2_000_000n), { nano: true }));
    const out = path.join(dir, 'peer.pcap');
    const peer = await capturePeer(ns, device, out, FRAME_FILTER);
    const r = await win.run(`
      const wirecap = require(${JSON.stringify(win.packageDir)});
      const dev = wirecap.devices().find((d) => d.description === ${JSON.stringify(device)});
      const r = wirecap.replay(${JSON.stringify(win.windowsPath(file))}, dev.name, { speed: 4 });
      r.done.then((result) => console.log(JSON.stringify(result)), (e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })));`);
    const last = r.output.trim().split(/\r?\n/).pop() ?? '';
    await peer.stop(Number(/"sent":(\d+)/.exec(last)?.[1] ?? 0));
    const result = JSON.parse(last);
    expect(result).toMatchObject({ sent: 60, failed: 0, reason: 'end', mode: 'sendpacket' });
    // Paced, not at top speed: 59 gaps of 2 ms at speed 4, less 1 ms for where
    // the elapsed time starts (the first send, read off wine's clock).
    expect(result.elapsedNs).toBeGreaterThanOrEqual((59 * 2_000_000) / 4 - 1_000_000);
    expect(referenceRead(out).packets.map((p) => p.hex)).toEqual(referenceRead(file).packets.map((p) => p.hex));
  });

  test("reads the device's MTU from GetAdaptersAddresses, and skips and counts the frames longer than it allows", async () => {
    const device = ns.pairs[0].device;
    execFileSync('ip', ['link', 'set', 'dev', device, 'mtu', '1400']);
    try {
      // 1414 bytes is the MTU plus the Ethernet header: the longest frame that fits.
      const sizes = [100, 1414, 1415, 1500, 200];
      const file = path.join(dir, 'mtu.pcap');
      fs.writeFileSync(file, pcapBytes(sizes.map((size, i) => ({ timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, data: frame(i, size) })), { nano: true }));
      const out = path.join(dir, 'mtu.peer.pcap');
      const peer = await capturePeer(ns, device, out, FRAME_FILTER);
      const r = await win.run(`
        const wirecap = require(${JSON.stringify(win.packageDir)});
        const dev = wirecap.devices().find((d) => d.description === ${JSON.stringify(device)});
        const r = wirecap.replay(${JSON.stringify(win.windowsPath(file))}, dev.name, { topspeed: true });
        r.done.then((result) => console.log(JSON.stringify({ mtu: r.mtu, ...result })), (e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })));`);
      const last = r.output.trim().split(/\r?\n/).pop() ?? '';
      await peer.stop(Number(/"sent":(\d+)/.exec(last)?.[1] ?? 0));
      const result = JSON.parse(last);
      expect(result).toMatchObject({ mtu: 1400, taken: 5, sent: 3, oversize: 2, failed: 0, reason: 'end' });
      expect(referenceRead(out).packets.map((p) => indexOf(p.hex))).toEqual([0, 1, 4]);
    } finally {
      execFileSync('ip', ['link', 'set', 'dev', device, 'mtu', '1500']);
    }
  });
});
