import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liveDump, openLive, Packet, WirecapError } from '../lib';
import { describeLive } from './helpers/live';
import { capinfos, filePackets, tcpdumpRead } from './helpers/tools';
import { markedPayloads, runNode, sendUdp, sleep, startSender, udpSink, waitFor } from './helpers/traffic';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-dump-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Packets a parallel iterator saw, copied, until count or the capture closes. */
async function collect(capture: AsyncIterable<Packet>, count: number): Promise<Packet[]> {
  const packets: Packet[] = [];
  for await (const p of capture) {
    packets.push({ ...p, data: Buffer.from(p.data) });
    if (packets.length === count) break;
  }
  return packets;
}

/**
 * The file holds exactly these packets: tshark's timestamps and lengths,
 * tcpdump's bytes. Timestamps are equal when the packets come from the same
 * capture (a tee); another capture on the same device stamps its own copy
 * of each packet, microseconds apart.
 */
function expectFileHolds(file: string, packets: Packet[], sameCapture: boolean): void {
  const inFile = filePackets(file);
  expect(inFile.map((p) => [p.caplen, p.len, p.hex])).toEqual(packets.map((p) => [p.caplen, p.len, p.data.toString('hex')]));
  inFile.forEach((p, i) => {
    if (sameCapture) expect(p.timestamp).toBe(packets[i].timestamp);
    else expect(Math.abs(Number(p.timestamp - packets[i].timestamp))).toBeLessThan(1_000_000);
  });
  const read = tcpdumpRead(file);
  expect(read.complaints).toBe('');
  expect(read.lines).toHaveLength(packets.length);
}

const fixedPayloads = (n: number, size: number, tag: string): Buffer[] =>
  Array.from({ length: n }, (_, i) => Buffer.from(`${tag}:${i}:`.padEnd(size, '.')));

describeLive('liveDump()', () => {
  test('writes exactly maxPackets packets, equal to what a parallel iterator saw, readable by tcpdump and tshark', async () => {
    const sink = await udpSink();
    const filter = `udp and dst port ${sink.port}`;
    const file = path.join(dir, 'out.pcap');
    const watcher = openLive('lo', { filter, timeoutMs: 10 });
    const dump = liveDump('lo', file, { filter, maxPackets: 100, timeoutMs: 10 });
    expect(dump.ended).toBe(false);
    const seen = collect(watcher, 100);
    await sendUdp(sink.port, markedPayloads('dump', 150));
    const result = await dump.done;
    expect(dump.ended).toBe(true);
    expect(result).toMatchObject({ packets: 100, files: 1, reason: 'maxPackets', mode: 'user' });
    expect(result.bytes).toBe(fs.statSync(file).size);
    expectFileHolds(file, await seen, false);
    expect(capinfos(file)).toMatchObject({ 'Number of packets': '100', 'File encapsulation': 'ether' });
    sink.close();
  });

  test('maxBytes: the file never passes it; the packet that would cross it is not written', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'bytes.pcap');
    // 24-byte header, then 16 + 42 + 158 = 216 bytes a packet: 10 fit in 2200, the 11th would not.
    const dump = liveDump('lo', file, { filter: `udp and dst port ${sink.port}`, maxBytes: 2200, timeoutMs: 10 });
    await sendUdp(sink.port, fixedPayloads(30, 158, 'b'));
    const result = await dump.done;
    expect(result).toMatchObject({ reason: 'maxBytes', packets: 10, bytes: 24 + 10 * 216 });
    expect(fs.statSync(file).size).toBe(24 + 10 * 216);
    expect(capinfos(file)['Number of packets']).toBe('10');
    sink.close();
  });

  test('durationMs: the dump ends on time with every packet of its window, in order and without a gap', async () => {
    const sink = await udpSink();
    const filter = `udp and dst port ${sink.port}`;
    const file = path.join(dir, 'duration.pcap');
    const watcher = openLive('lo', { filter, timeoutMs: 10 });
    const seen = collect(watcher, Infinity);
    // Traffic from another process, under way before the dump opens and after it ends.
    const sender = startSender(sink.port, { gapMs: 4, marker: 't' });
    await waitFor(() => watcher.stats().captured > 0, 15000, 'the traffic to start');
    const dump = liveDump('lo', file, { filter, durationMs: 300, timeoutMs: 10 });
    const result = await dump.done;
    const atEnd = watcher.stats().captured;
    await waitFor(() => watcher.stats().captured > atEnd, 15000, 'traffic after the dump ended');
    const sent = await sender.stop();
    await waitFor(() => watcher.stats().delivered === sent, 15000, 'the watcher to take every datagram');
    watcher.close();
    expect(result.reason).toBe('duration');
    const inFile = filePackets(file);
    const all = await seen;
    expect(inFile.length).toBeGreaterThan(0);
    expect(inFile.length).toBeLessThan(all.length);
    // The file is a contiguous run of what the iterator saw, spanning less than the duration.
    const first = all.findIndex((p) => p.data.toString('hex') === inFile[0].hex);
    expect(first).toBeGreaterThan(0);
    const expected = all.slice(first, first + inFile.length);
    expect(inFile.map((p) => p.hex)).toEqual(expected.map((p) => p.data.toString('hex')));
    expect(inFile.at(-1)!.timestamp - inFile[0].timestamp).toBeLessThan(300_000_000n);
    sink.close();
  });

  test('stop() writes out every packet captured before it and resolves with reason stopped', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'stop.pcapng');
    const dump = liveDump('lo', file, { filter: `udp and dst port ${sink.port}`, format: 'pcapng' });
    await sendUdp(sink.port, markedPayloads('s', 40));
    const result = await dump.stop();
    expect(result).toMatchObject({ reason: 'stopped', packets: 40 });
    expect(await dump.done).toBe(result);
    expect(capinfos(file)['Number of packets']).toBe('40');
    sink.close();
  });

  test('an AbortSignal stops the dump like stop(): nothing captured is lost', async () => {
    const sink = await udpSink();
    const controller = new AbortController();
    const file = path.join(dir, 'abort.pcap');
    const dump = liveDump('lo', file, { filter: `udp and dst port ${sink.port}`, signal: controller.signal });
    await sendUdp(sink.port, markedPayloads('a', 25));
    controller.abort();
    expect(await dump.done).toMatchObject({ reason: 'stopped', packets: 25 });
    sink.close();
  });

  test('nanosecond pcap and pcapng files hold the iterated packets to the nanosecond, as capinfos and tshark see them', async () => {
    const sink = await udpSink();
    const filter = `udp and dst port ${sink.port}`;
    const pcap = path.join(dir, 'nano.pcap');
    const pcapng = path.join(dir, 'nano.pcapng');
    const a = openLive('lo', { filter, timeoutMs: 10, precision: 'nano' });
    const b = openLive('lo', { filter, timeoutMs: 10, precision: 'nano' });
    const dumps = [a.dump(pcap, { maxPackets: 20 }), b.dump(pcapng, { maxPackets: 20, format: 'pcapng' })];
    const seen = Promise.all([collect(a, 20), collect(b, 20)]);
    await sendUdp(sink.port, markedPayloads('n', 20));
    const [fromA, fromB] = await seen;
    expect(await Promise.all(dumps.map((d) => d.done))).toMatchObject([{ reason: 'maxPackets' }, { reason: 'maxPackets' }]);
    expect(capinfos(pcap)).toMatchObject({ 'File type': 'nsecpcap', 'File timestamp precision': 'nanoseconds (9)' });
    expect(capinfos(pcapng)).toMatchObject({ 'File type': 'pcapng', 'File timestamp precision': 'nanoseconds (9)' });
    expectFileHolds(pcap, fromA, true);
    expectFileHolds(pcapng, fromB, true);
    expect(fromA.some((p) => p.timestamp % 1000n !== 0n)).toBe(true);
    const ifName = execFileSync('tshark', ['-r', pcapng, '-c', '1', '-T', 'fields', '-e', 'frame.interface_name'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(ifName.trim()).toBe('lo');
    sink.close();
  });

  test('rotation by size makes sortable, individually valid files; a ring keeps only the newest', async () => {
    const sink = await udpSink();
    const filter = `udp and dst port ${sink.port}`;
    // 24 + 4 * 1058 = 4256: four 1000-byte datagrams a file, 40 datagrams make 10 files.
    const rotated = liveDump('lo', path.join(dir, 'rot.pcap'), { filter, snaplen: 2000, rotate: { fileBytes: 4256 }, timeoutMs: 10 });
    const ring = liveDump('lo', path.join(dir, 'r.pcap'), {
      filter,
      snaplen: 2000,
      rotate: { fileBytes: 4256, files: 3 },
      timeoutMs: 10,
    });
    await sendUdp(sink.port, fixedPayloads(40, 1000, 'r'));
    await sleep(100);
    const [all, kept] = await Promise.all([rotated.stop(), ring.stop()]);
    expect(all).toMatchObject({ packets: 40, files: 10 });
    expect(kept).toMatchObject({ packets: 40, files: 10 });

    const names = fs.readdirSync(dir).filter((f) => f.startsWith('rot_')).sort();
    expect(names).toHaveLength(10);
    names.forEach((name, i) => {
      expect(name).toMatch(new RegExp(`^rot_${String(i + 1).padStart(6, '0')}_\\d{8}T\\d{6}Z\\.pcap$`));
      const file = path.join(dir, name);
      expect(fs.statSync(file).size).toBeLessThanOrEqual(4256);
      expect(capinfos(file)['Number of packets']).toBe('4');
      expect(tcpdumpRead(file).complaints).toBe('');
    });
    const ringNames = fs.readdirSync(dir).filter((f) => f.startsWith('r_')).sort();
    expect(ringNames.map((n) => n.slice(0, 8))).toEqual(['r_000008', 'r_000009', 'r_000010']);
    sink.close();
  });

  test('a dump tees an iterated capture: a stalled iterator loses packets, the dump none', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'tee.pcap');
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, queueBytes: 65536, bufferSize: 8 << 20, timeoutMs: 10 });
    const tee = cap.dump(file);
    await sendUdp(sink.port, fixedPayloads(300, 1000, 'tee'));
    await waitFor(() => tee.stats().packets === 300, 10000, 'the dump to write 300 packets');
    expect(cap.stats().consumerDropped).toBeGreaterThan(0);
    const result = await tee.stop();
    expect(result.packets).toBe(300);
    expect(capinfos(file)['Number of packets']).toBe('300');
    cap.close();
    sink.close();
  });

  test('closing the capture ends its dump with reason stopped and a valid file', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'closed.pcap');
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}` });
    const dump = cap.dump(file);
    cap.close();
    expect(dump.ended).toBe(true);
    expect(await dump.done).toMatchObject({ reason: 'stopped', packets: 0, bytes: 24 });
    expect(tcpdumpRead(file).complaints).toBe('');
    sink.close();
  });

  test('a dump keeps the process alive until it ends, then the process exits', async () => {
    const file = path.join(dir, 'alive.pcap');
    const result = await runNode(`
      const d = wirecap.liveDump('lo', ${JSON.stringify(file)}, { filter: 'udp and port 9', durationMs: 300 });
      d.done.then((r) => console.log(r.reason));
    `);
    expect(result.stdout.trim()).toBe('duration');
    expect(result.code).toBe(0);
  });
});

describeLive('dump errors give typed errors and valid files', () => {
  test('a missing directory throws ENOENT before capturing', () => {
    const error = (() => {
      try {
        liveDump('lo', path.join(dir, 'no', 'such', 'dir.pcap'));
      } catch (e) {
        return e as WirecapError;
      }
    })();
    expect(error).toBeInstanceOf(WirecapError);
    expect(error!.code).toBe('ENOENT');
    expect(error!.message).toContain(path.join(dir, 'no', 'such', 'dir.pcap'));
  });

  test('an unwritable directory throws EACCES before capturing', async () => {
    // Root ignores permissions: drop CAP_DAC_OVERRIDE so they apply.
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chownSync(locked, 65534, 65534);
    const result = await runNode(
      `try { wirecap.liveDump('lo', ${JSON.stringify(path.join(locked, 'x.pcap'))}); console.log('opened'); } catch (e) { console.log(e.code); }`,
      { wrapper: ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] },
    );
    expect(result.stdout.trim()).toBe('EACCES');
  });

  test.each([
    ['maxPackets 0', { maxPackets: 0 }],
    ['a negative maxBytes', { maxBytes: -1 }],
    ['a fractional durationMs', { durationMs: 1.5 }],
    ['an unknown format', { format: 'pcapx' }],
    ['rotate.files without a size or time', { rotate: { files: 3 } }],
    ['a fileBytes too small for one full packet', { snaplen: 1000, rotate: { fileBytes: 1000 } }],
    ['an unknown option', { maxPacket: 3 }],
    ['an unknown mode', { mode: 'driver' }],
  ])('%s gives EINVAL', (_what, options) => {
    expect(() => liveDump('lo', path.join(dir, 'x.pcap'), options as never)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(fs.existsSync(path.join(dir, 'x.pcap'))).toBe(false);
  });

  test('a full disk ends the dump with ENOSPC and a file cut back to its last complete record', async () => {
    const mnt = path.join(dir, 'small');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      const sink = await udpSink();
      const file = path.join(mnt, 'full.pcap');
      const dump = liveDump('lo', file, { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
      // 200 KB into 64 KB: the writer's 256 KiB buffer is flushed once a second, or at stop().
      await sendUdp(sink.port, fixedPayloads(200, 1000, 'full'));
      const result = await dump.stop();
      expect(result.reason).toBe('error');
      expect(result.error).toBeInstanceOf(WirecapError);
      expect(result.error!.code).toBe('ENOSPC');
      const read = tcpdumpRead(file);
      expect(read.complaints).toBe('');
      expect(read.lines).toHaveLength(result.packets);
      expect(result.packets).toBeGreaterThan(0);
      expect(fs.statSync(file).size).toBe(result.bytes);
      sink.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  test('an interface that disappears mid-dump ends it with reason error and a valid file', async () => {
    const name = `wc${process.pid % 10000}`;
    execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    execFileSync('ip', ['link', 'set', name, 'up']);
    const file = path.join(dir, 'gone.pcap');
    try {
      const dump = liveDump(name, file, { timeoutMs: 10 });
      await sleep(100);
      execFileSync('ip', ['link', 'del', name]);
      const result = await dump.done;
      expect(result.reason).toBe('error');
      expect(result.error).toBeInstanceOf(WirecapError);
      expect(result.error!.code).toBe('ENETDOWN');
      expect(tcpdumpRead(file).complaints).toBe('');
    } finally {
      spawnQuiet('ip', ['link', 'del', name]);
    }
  });
});

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
