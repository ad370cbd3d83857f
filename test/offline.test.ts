import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWriter, openOffline, Packet, slice, WirecapError } from '../lib';
import { capinfos, tsharkFields } from './helpers/tools';
import { pcapBytes, referenceRead, syntheticPackets, TracePacket } from './helpers/trace';
import { describeLive } from './helpers/live';
import { markedPayloads, ROOT, sendUdp, sleep, udpSink } from './helpers/traffic';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-offline-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeTrace(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

async function readAll(file: string, options?: Parameters<typeof openOffline>[1]): Promise<Packet[]> {
  const packets: Packet[] = [];
  for await (const p of openOffline(file, options)) packets.push({ ...p, data: Buffer.from(p.data) });
  return packets;
}

/** wirecap yields exactly what libpcap's pcap_next_ex returns. */
async function expectSameAsLibpcap(file: string): Promise<Packet[]> {
  const ours = await readAll(file);
  const reference = referenceRead(file);
  expect(reference.end).toBe('end -2');
  expect(ours.map((p) => [p.timestamp, p.caplen, p.len, p.data.toString('hex')])).toEqual(
    reference.packets.map((p) => [p.timestamp, p.caplen, p.len, p.hex]),
  );
  return ours;
}

const packets = syntheticPackets(500);
const editcap = (args: string[]): void => void execFileSync('editcap', args, { stdio: 'ignore' });

describe('openOffline() reads every packet exactly as pcap_next_ex does', () => {
  test.each([
    ['microsecond, little-endian', { nano: false, bigEndian: false }],
    ['microsecond, big-endian', { nano: false, bigEndian: true }],
    ['nanosecond, little-endian', { nano: true, bigEndian: false }],
    ['nanosecond, big-endian', { nano: true, bigEndian: true }],
  ])('pcap, %s', async (name, options) => {
    const file = writeTrace(`${name.replace(/\W+/g, '-')}.pcap`, pcapBytes(packets, options));
    const ours = await expectSameAsLibpcap(file);
    expect(ours).toHaveLength(500);
    // Nanosecond files keep every digit; microsecond files keep whole microseconds.
    expect(ours[1].timestamp).toBe(options.nano ? packets[1].timestamp : (packets[1].timestamp / 1000n) * 1000n);
    const cap = openOffline(file);
    expect(cap.format).toBe(options.nano ? 'pcap-nsec' : 'pcap');
    expect(cap.swapped).toBe(options.bigEndian === (os.endianness() === 'LE'));
    expect(cap.version).toBe('2.4');
    expect([cap.linktype, cap.linktypeName, cap.snaplen]).toEqual([1, 'EN10MB', 262144]);
    cap.close();
  });

  test('a trace many times larger than the read-ahead ring and the queue', async () => {
    const file = writeTrace('large.pcap', pcapBytes(syntheticPackets(12000), { nano: true }));
    expect(fs.statSync(file).size).toBeGreaterThan(8 * 2 ** 20);
    expect(await expectSameAsLibpcap(file)).toHaveLength(12000);
  });

  test('pcapng converted by editcap, in microseconds and nanoseconds', async () => {
    const source = writeTrace('ng-source.pcap', pcapBytes(packets, { nano: true }));
    const ng = path.join(dir, 'converted.pcapng');
    editcap(['-F', 'pcapng', source, ng]);
    const ours = await expectSameAsLibpcap(ng);
    expect(ours[7].timestamp).toBe(packets[7].timestamp);
    expect(openOffline(ng).format).toBe('pcapng');
  });

  test('a pcapng file with two interfaces of the same linktype, merged by mergecap', async () => {
    const a = writeTrace('if-a.pcap', pcapBytes(packets.slice(0, 100)));
    const b = writeTrace('if-b.pcap', pcapBytes(syntheticPackets(100, 1_700_000_000_000_000_500n)));
    const merged = path.join(dir, 'merged.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, a, b]);
    const ours = await expectSameAsLibpcap(merged);
    expect(ours).toHaveLength(200);
    // Merged in time order.
    for (let i = 1; i < ours.length; i++) expect(ours[i].timestamp).toBeGreaterThanOrEqual(ours[i - 1].timestamp);
  });

  test('a pcapng file with interfaces of different linktypes, which libpcap rejects: each packet with its interface and linktype, as tshark reads them; singleLinktype is ENOTSUP', async () => {
    const a = writeTrace('lt-a.pcap', pcapBytes(packets.slice(0, 10)));
    const raw = packets.slice(0, 10).map((p) => ({ ...p, data: p.data.subarray(14), len: undefined }));
    const b = writeTrace('lt-b.pcap', pcapBytes(raw, { linktype: 101 }));
    const merged = path.join(dir, 'two-linktypes.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, a, b]);
    const reference = referenceRead(merged);
    expect(reference.packets.length).toBeLessThan(20);
    expect(reference.end).toMatch(/^end -1 .*type/);
    const capture = openOffline(merged);
    expect(capture.interfaces.map((i) => [i.index, i.linktype])).toEqual([[0, 1], [1, 101]]);
    expect(capture.linktype).toBe(1);
    const ours: string[][] = [];
    for await (const p of capture) ours.push([String(p.interface), String(capture.interfaces[p.interface!].linktype), p.data.toString('hex')]);
    // WTAP_ENCAP_ETHERNET is 1, WTAP_ENCAP_RAW_IP 7.
    const encap: Record<string, string> = { '1': '1', '7': '101' };
    const theirs = tsharkFields(merged, ['frame.interface_id', 'frame.encap_type']);
    expect(ours.map(([id, linktype]) => [id, linktype])).toEqual(theirs.map(([id, type]) => [id, encap[type]]));
    expect(ours).toHaveLength(20);
    expect(ours.filter(([id]) => id === '1').map(([, , hex]) => hex)).toEqual(raw.map((p) => p.data.toString('hex')));
    expect(() => openOffline(merged, { singleLinktype: true })).toThrow(expect.objectContaining({ code: 'ENOTSUP', message: expect.stringMatching(/as one link type/) }));
    // slice writes one link type: a mixed input is refused, not written under the first one's.
    await expect(slice([merged], path.join(dir, 'mixed-slice.pcap'))).rejects.toMatchObject({ code: 'ENOTSUP' });
  });

  test('a filter on interfaces of different linktypes is compiled for each: every interface keeps what libpcap keeps of its own packets (tcpdump -r of each part)', async () => {
    const ether = packets.slice(0, 40);
    const raw = ether.map((p) => ({ ...p, timestamp: p.timestamp + 1n, data: p.data.subarray(14), len: undefined }));
    const a = writeTrace('flt-a.pcap', pcapBytes(ether));
    const b = writeTrace('flt-b.pcap', pcapBytes(raw, { linktype: 101 }));
    const merged = path.join(dir, 'flt-two-linktypes.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, a, b]);
    /** What tcpdump (libpcap's BPF for the part's own link type) keeps of a part, as hex. */
    const kept = (part: string, filter: string): string[] => {
      const out = `${part}.${filter.replace(/\W+/g, '_')}.pcap`;
      execFileSync('tcpdump', ['-r', part, '-w', out, filter], { stdio: 'ignore' });
      return referenceRead(out).packets.map((p) => p.hex);
    };
    const ours = async (filter: string): Promise<string[][]> => {
      const byInterface: string[][] = [[], []];
      for await (const p of openOffline(merged, { filter })) byInterface[p.interface!].push(p.data.toString('hex'));
      return byInterface;
    };
    // 'ip' tests the ethertype on Ethernet and the version nibble on raw IP: Ethernet's program on raw packets would drop them all.
    const filter = 'ip and greater 300';
    const expected = [kept(a, filter), kept(b, filter)];
    expect(expected[1].length).toBeGreaterThan(0);
    expect(expected[1].length).toBeLessThan(raw.length);
    expect(await ours(filter)).toEqual(expected);
    // A filter that applies to Ethernet only: raw IP's packets match nothing (tcpdump refuses it there).
    expect(spawnSync('tcpdump', ['-r', b, 'ether broadcast or ip'], { stdio: 'ignore' }).status).not.toBe(0);
    expect(await ours('ether broadcast or ip')).toEqual([kept(a, 'ether broadcast or ip'), []]);
    // One that applies to neither is the filter's error, at open.
    expect(() => openOffline(merged, { filter: 'ip and' })).toThrow(expect.objectContaining({ code: 'EFILTER' }));
  });
});

describeLive('openOffline() on traces tcpdump wrote', () => {
  test('tcpdump -w output of loopback traffic, also converted to nanoseconds by editcap', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'tcpdump.pcap');
    const tcpdump = spawn('tcpdump', ['-i', 'lo', '-B', '65536', '-c', '30', '-w', file, `udp and dst port ${sink.port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) => tcpdump.stderr.on('data', (d: Buffer) => d.includes('listening') && resolve()));
    const exited = new Promise((resolve) => tcpdump.on('exit', resolve));
    await sendUdp(sink.port, markedPayloads('td', 30));
    await exited;
    sink.close();
    expect(await expectSameAsLibpcap(file)).toHaveLength(30);
    const nsec = path.join(dir, 'tcpdump-ns.pcap');
    editcap(['-F', 'nsecpcap', file, nsec]);
    expect(openOffline(nsec).format).toBe('pcap-nsec');
    expect(await expectSameAsLibpcap(nsec)).toHaveLength(30);
  });
});

describe('openOffline() options and shapes', () => {
  test('a BPF filter applies to a file', async () => {
    const file = writeTrace('filter.pcap', pcapBytes(packets));
    const small = await readAll(file, { filter: 'less 200' });
    // 'less' looks at the length on the wire.
    expect(small.length).toBe(packets.filter((p) => (p.len ?? p.data.length) <= 200).length);
    expect(small.every((p) => p.len <= 200)).toBe(true);
  });

  test("precision 'micro' truncates a nanosecond file to microseconds", async () => {
    const file = writeTrace('trunc-ns.pcap', pcapBytes(packets, { nano: true }));
    const micro = await readAll(file, { precision: 'micro' });
    expect(micro[3].timestamp).toBe((packets[3].timestamp / 1000n) * 1000n);
  });

  test('batches() carries the same packets as per-packet iteration', async () => {
    const file = writeTrace('batches.pcap', pcapBytes(packets, { nano: true }));
    const viaBatches: string[] = [];
    for await (const batch of openOffline(file).batches()) {
      for (const p of batch) viaBatches.push(`${p.timestamp}:${p.len}:${p.data.toString('hex')}`);
    }
    const viaPackets = (await readAll(file)).map((p) => `${p.timestamp}:${p.len}:${p.data.toString('hex')}`);
    expect(viaBatches).toEqual(viaPackets);
  });

  test("batches({ recycle: true }) yields the same packets, and reuses a batch's memory once the next is asked for", async () => {
    const many = syntheticPackets(12000);
    const file = writeTrace('recycle.pcap', pcapBytes(many, { nano: true }));
    const copies: string[] = [];
    let first: { view: Buffer; copy: Buffer } | null = null;
    // A queue smaller than a slab keeps three slabs going round, so the first comes back.
    for await (const batch of openOffline(file, { queueBytes: 65536 }).batches({ recycle: true })) {
      for (const p of batch) copies.push(`${p.timestamp}:${p.data.toString('hex')}`);
      first ??= { view: batch.data, copy: Buffer.from(batch.data) };
    }
    expect(copies).toEqual(many.map((p) => `${p.timestamp}:${p.data.toString('hex')}`));
    // The first batch's memory has carried later packets since.
    expect(first!.view.equals(first!.copy)).toBe(false);
    await expect(openOffline(file).batches({ recycle: 'yes' } as never).next()).rejects.toMatchObject({ code: 'EINVAL' });
  });

  test('reading is lossless when the consumer is slower than the disk', async () => {
    const many = syntheticPackets(5000);
    const file = writeTrace('slow.pcap', pcapBytes(many));
    const cap = openOffline(file, { queueBytes: 65536 });
    let n = 0;
    for await (const _ of cap) {
      if (++n % 500 === 0) await sleep(10);
    }
    expect(n).toBe(5000);
    expect(cap.stats()).toMatchObject({ captured: 5000, delivered: 5000, consumerDropped: 0, received: null });
  });

  test('a dump started right after openOffline() writes every packet of the file, filtered as the iterator', async () => {
    const file = writeTrace('dump-source.pcap', pcapBytes(packets, { nano: true }));
    const out = path.join(dir, 'dump-of-file.pcap');
    const cap = openOffline(file, { filter: 'len <= 600' });
    const dumped = cap.dump(out);
    let count = 0;
    for await (const _ of cap) count++;
    const result = await dumped.done;
    const expected = packets.filter((p) => (p.len ?? p.data.length) <= 600);
    expect([count, result.packets]).toEqual([expected.length, expected.length]);
    expect(referenceRead(out).packets.map((p) => [p.timestamp, p.hex])).toEqual(expected.map((p) => [p.timestamp, p.data.toString('hex')]));
  });

  test("'-' reads standard input", () => {
    const bytes = pcapBytes(packets.slice(0, 50), { nano: true });
    const result = spawnSync(
      process.execPath,
      ['-e', `(async () => { let n = 0; for await (const p of require(${JSON.stringify(ROOT)}).openOffline('-')) n++; console.log(n); })()`],
      { input: bytes, encoding: 'utf8', timeout: 10000 },
    );
    expect(result.stdout.trim()).toBe('50');
  });

  test('closing a file mid-read ends the iteration', async () => {
    const file = writeTrace('close.pcap', pcapBytes(syntheticPackets(5000)));
    const cap = openOffline(file, { queueBytes: 65536 });
    let n = 0;
    for await (const _ of cap) if (++n === 10) cap.close();
    expect(n).toBe(10);
  });
});

describe('bad files give typed errors, never a crash or a hang', () => {
  async function failure(file: string): Promise<{ error: WirecapError | undefined; count: number }> {
    let count = 0;
    try {
      for await (const _ of openOffline(file)) count++;
      return { error: undefined, count };
    } catch (e) {
      return { error: e as WirecapError, count };
    }
  }

  test('a missing file gives ENOENT', async () => {
    expect((await failure(path.join(dir, 'nope.pcap'))).error?.code).toBe('ENOENT');
  });

  test('a directory gives EISDIR', async () => {
    expect((await failure(dir)).error?.code).toBe('EISDIR');
  });

  test('an empty file gives EBADFORMAT', async () => {
    expect((await failure(writeTrace('empty.pcap', Buffer.alloc(0)))).error?.code).toBe('EBADFORMAT');
  });

  test("a file that is not a capture gives EBADFORMAT with libpcap's text", async () => {
    const { error } = await failure(writeTrace('text.pcap', Buffer.from('this is not a capture file at all\n')));
    expect(error?.code).toBe('EBADFORMAT');
    expect(error?.message).toMatch(/unknown file format/);
  });

  test('a file cut inside a record yields every complete packet, then ETRUNCATED', async () => {
    const whole = pcapBytes(packets.slice(0, 20));
    const { error, count } = await failure(writeTrace('cut.pcap', whole.subarray(0, whole.length - 30)));
    expect(count).toBe(19);
    expect(error?.code).toBe('ETRUNCATED');
    expect(error?.message).toMatch(/truncated/);
  });

  test('a file cut short after it was opened: every packet still there, then ETRUNCATED', async () => {
    const whole = pcapBytes(packets.slice(0, 50));
    const file = writeTrace('shrinks.pcap', whole);
    const cap = openOffline(file);
    fs.truncateSync(file, whole.length - 100);
    let count = 0;
    let error: WirecapError | undefined;
    try {
      for await (const _ of cap) count++;
    } catch (e) {
      error = e as WirecapError;
    }
    expect(count).toBe(referenceRead(file).packets.length);
    expect(error?.code).toBe('ETRUNCATED');
  });

  test.each([
    ['larger than the snaplen', 300, { snaplen: 100 }],
    ['absurdly large', 0x7fffffff, {}],
  ])('a caplen %s: the packets before it, then EBADFORMAT', async (_what, caplen, options) => {
    const bad: TracePacket[] = [...packets.slice(0, 5), { timestamp: 1n, data: Buffer.alloc(300), caplen }];
    const file = writeTrace(`caplen-${caplen}.pcap`, pcapBytes(bad, options));
    const reference = referenceRead(file);
    const { error, count } = await failure(file);
    if (reference.end.startsWith('end -1')) {
      expect(count).toBe(reference.packets.length);
      expect(error?.code).toBe('EBADFORMAT');
      expect(error?.message).toContain(reference.end.replace(/^end -1 /, ''));
    } else {
      // libpcap accepts it (and cuts it to the snaplen): so does wirecap.
      expect(error).toBeUndefined();
      expect(count).toBe(reference.packets.length);
    }
  });
});

describe('createWriter()', () => {
  test('a filtered subset of a trace, written in one line, reads back identical in libpcap and capinfos', async () => {
    const source = writeTrace('w-source.pcap', pcapBytes(packets, { nano: true }));
    const out = path.join(dir, 'w-subset.pcapng');
    const writer = createWriter(out, { format: 'pcapng', precision: 'nano' });
    for await (const p of openOffline(source, { filter: 'greater 1000' })) writer.write(p);
    writer.close();
    const expected = (await readAll(source)).filter((p) => p.len >= 1000);
    const back = referenceRead(out).packets;
    expect(back.map((p) => [p.timestamp, p.caplen, p.len, p.hex])).toEqual(
      expected.map((p) => [p.timestamp, p.caplen, p.len, p.data.toString('hex')]),
    );
    expect(capinfos(out)).toMatchObject({ 'File type': 'pcapng', 'Number of packets': String(expected.length) });
    expect(writer.stats()).toEqual({ packets: expected.length, bytes: fs.statSync(out).size });
  });

  test('writes hand-built packets in microsecond pcap, cutting data to the snaplen', () => {
    const out = path.join(dir, 'w-hand.pcap');
    const writer = createWriter(out, { linktype: 'RAW', snaplen: 64 });
    writer.write({ timestamp: 1_600_000_000_000_001_999n, data: Buffer.alloc(100, 0x45) });
    writer.close();
    const [p] = referenceRead(out).packets;
    // libpcap's DLT_RAW is 12 here; the file says LINKTYPE_RAW (101), as pcap_dump would.
    expect(p).toMatchObject({ timestamp: 1_600_000_000_000_001_000n, caplen: 64, len: 100, linktype: 12 });
    expect(fs.readFileSync(out).readUInt32LE(20)).toBe(101);
  });

  test('bad paths, bad packets and writes after close give typed errors', () => {
    expect(() => createWriter(path.join(dir, 'no', 'dir.pcap'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => createWriter(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => createWriter(path.join(dir, 'x.pcap'), { format: 'erf' as never })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    const writer = createWriter(path.join(dir, 'closed.pcap'));
    expect(() => writer.write({ timestamp: 1, data: Buffer.alloc(1) } as never)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => writer.write({ timestamp: 1n, data: Buffer.alloc(10), len: 5 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    writer.close();
    writer.close();
    expect(() => writer.write({ timestamp: 1n, data: Buffer.alloc(1) })).toThrow(
      expect.objectContaining({ code: 'ECLOSED' }),
    );
  });
});
