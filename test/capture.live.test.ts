import { openLive, Packet, PacketBatch } from '../lib';
import { describeLive } from './helpers/live';
import { markedPayloads, sendUdp, udpSink, UDP_HEADERS, waitFor } from './helpers/traffic';

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** Collects packets until `count` arrived (or the capture ends). */
async function take(capture: AsyncIterable<Packet>, count: number): Promise<Packet[]> {
  const packets: Packet[] = [];
  if (count === 0) return packets;
  for await (const packet of capture) {
    packets.push({ ...packet, data: Buffer.from(packet.data) });
    if (packets.length === count) break;
  }
  return packets;
}

const payloadOf = (p: Packet): string => p.data.subarray(UDP_HEADERS).toString();

describeLive('openLive() on lo', () => {
  test('captures every datagram sent to a loopback port with its length, bytes and increasing timestamps', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}` });
    const payloads = markedPayloads(`m${sink.port}`, 200);
    const before = nowNs();
    const received = take(cap, payloads.length);
    await sendUdp(sink.port, payloads);
    const packets = await received;
    const after = nowNs();
    sink.close();

    expect(packets.map(payloadOf)).toEqual(payloads.map(String));
    for (const [i, p] of packets.entries()) {
      expect(p.caplen).toBe(UDP_HEADERS + payloads[i].length);
      expect(p.len).toBe(p.caplen);
      expect(p.data.length).toBe(p.caplen);
      // The kernel stamps on receipt, inside the send window (1 ms for clock granularity).
      expect(p.timestamp).toBeGreaterThanOrEqual(before - 1_000_000n);
      expect(p.timestamp).toBeLessThanOrEqual(after + 1_000_000n);
      if (i > 0) expect(p.timestamp).toBeGreaterThanOrEqual(packets[i - 1].timestamp);
    }
    expect(cap.closed).toBe(true);
  });

  test('a filter keeps out traffic that does not match', async () => {
    const wanted = await udpSink();
    const other = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${wanted.port}`, timeoutMs: 10 });
    await sendUdp(other.port, markedPayloads('other', 20));
    await sendUdp(wanted.port, markedPayloads('wanted', 10));
    await sendUdp(other.port, markedPayloads('other', 20));
    const packets = await take(cap, 10);
    expect(packets.every((p) => payloadOf(p).startsWith('wanted:'))).toBe(true);
    // Everything that was captured matched: nothing from the other port is left in the queue either.
    await waitFor(() => cap.closed);
    expect(cap.stats().captured).toBe(10);
    wanted.close();
    other.close();
  });

  test('setFilter() mid-capture switches what is seen from the next packet on', async () => {
    const a = await udpSink();
    const b = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${a.port}`, timeoutMs: 10 });
    const it = cap[Symbol.asyncIterator]();
    await sendUdp(a.port, markedPayloads('a-before', 3));
    for (let i = 0; i < 3; i++) expect(payloadOf((await it.next()).value)).toMatch(/^a-before:/);

    cap.setFilter(`udp and dst port ${b.port}`);
    await sendUdp(a.port, markedPayloads('a-after', 5));
    await sendUdp(b.port, markedPayloads('b-after', 5));
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) seen.push(payloadOf((await it.next()).value));
    expect(seen).toEqual(markedPayloads('b-after', 5).map(String));
    await it.return!();
    expect(cap.stats().captured).toBe(8);
    a.close();
    b.close();
  });

  test('stats() add up: captured = delivered + consumerDropped, and libpcap received them all', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const received = take(cap, 50);
    await sendUdp(sink.port, markedPayloads('s', 50));
    await received;
    const stats = cap.stats();
    expect(stats.delivered).toBe(50);
    expect(stats.consumerDropped).toBe(0);
    expect(stats.captured).toBe(stats.delivered + stats.consumerDropped);
    expect(stats.received).toBeGreaterThanOrEqual(50);
    expect(stats.dropped).toBe(0);
    sink.close();
  });

  test('a full queue drops packets and counts every one of them in consumerDropped', async () => {
    const sink = await udpSink();
    // 64 KiB holds about 60 of these 1 KiB datagrams; nothing reads until all 400 were captured.
    // The kernel buffer holds all 400, so every loss here is the queue's.
    const cap = openLive('lo', {
      filter: `udp and dst port ${sink.port}`,
      timeoutMs: 10,
      bufferSize: 8 << 20,
      queueBytes: 65536,
    });
    const payloads = Array.from({ length: 400 }, (_, i) => Buffer.from(`q:${i}:`.padEnd(1000, 'x')));
    await sendUdp(sink.port, payloads);
    await waitFor(() => cap.stats().captured === 400, 10000, 'the capture thread to take all 400 packets');

    let delivered = 0;
    for await (const batch of cap.batches()) {
      delivered += batch.count;
      if (delivered + cap.stats().consumerDropped === 400) break;
    }
    const stats = cap.stats();
    expect(stats.consumerDropped).toBeGreaterThan(0);
    expect(stats.delivered).toBe(delivered);
    expect(stats.delivered + stats.consumerDropped).toBe(400);
    // What got through is the oldest packets, in order: the queue drops new arrivals, never queued ones.
    expect(delivered).toBeLessThan(70);
    sink.close();
  });

  test('batches() hand over contiguous buffers whose typed arrays describe every packet', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}` });
    const payloads = markedPayloads('batch', 100);
    await sendUdp(sink.port, payloads);
    const got: string[] = [];
    for await (const batch of cap.batches()) {
      expect(batch).toBeInstanceOf(PacketBatch);
      let expectedOffset = 0;
      for (let i = 0; i < batch.count; i++) {
        expect(batch.offsets[i]).toBe(expectedOffset);
        expectedOffset += batch.caplens[i];
        expect(batch.lens[i]).toBe(batch.caplens[i]);
        const p = batch.packet(i);
        expect(p.timestamp).toBe(batch.timestamps[i]);
        got.push(payloadOf(p));
      }
      expect(batch.data.length).toBe(expectedOffset);
      expect([...batch].length).toBe(batch.count);
      if (got.length === payloads.length) break;
    }
    expect(got).toEqual(payloads.map(String));
    sink.close();
  });

  test("precision 'nano' gives nanosecond timestamps, 'micro' whole microseconds", async () => {
    const sink = await udpSink();
    const nano = openLive('lo', { filter: `udp and dst port ${sink.port}`, precision: 'nano' });
    const micro = openLive('lo', { filter: `udp and dst port ${sink.port}` });
    expect(nano.precision).toBe('nano');
    expect(micro.precision).toBe('micro');
    const got = Promise.all([take(nano, 50), take(micro, 50)]);
    await sendUdp(sink.port, markedPayloads('ns', 50));
    const [nanoPackets, microPackets] = await got;
    expect(microPackets.every((p) => p.timestamp % 1000n === 0n)).toBe(true);
    // 50 kernel timestamps all landing on whole microseconds would be a one in 10^150 event.
    expect(nanoPackets.some((p) => p.timestamp % 1000n !== 0n)).toBe(true);
    // Both stamp the same arrivals: they agree to the microsecond.
    for (let i = 0; i < 50; i++) {
      expect(nanoPackets[i].timestamp / 1000n).toBe(microPackets[i].timestamp / 1000n);
    }
    sink.close();
  });

  test('inject() sends a frame on lo that a second capture sees byte for byte', async () => {
    const sink = await udpSink();
    const frame = udpFrame(sink.port, Buffer.from(`injected-${sink.port}`));
    const watcher = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const sender = openLive('lo', { filter: 'udp and port 9' }); // its own traffic is not what we look at
    const seen = take(watcher, 1);
    expect(sender.inject(frame)).toBe(frame.length);
    const [packet] = await seen;
    expect(packet.data.equals(frame)).toBe(true);
    sender.close();
    sink.close();
  });

  test('immediate mode delivers a packet while the capture is otherwise idle', async () => {
    const sink = await udpSink();
    // A read timeout far beyond the test's: only immediate delivery can pass.
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, immediate: true, timeoutMs: 60_000 });
    const got = take(cap, 1);
    await sendUdp(sink.port, [Buffer.from('now')]);
    const [p] = await got;
    expect(payloadOf(p)).toBe('now');
    sink.close();
  });

  test('linktype, its name and the snaplen come from the activated handle', () => {
    const cap = openLive('lo', { snaplen: 128 });
    expect(cap.linktype).toBe(1);
    expect(cap.linktypeName).toBe('EN10MB');
    expect(cap.snaplen).toBe(128);
    cap.close();
  });

  test('snaplen cuts packets: caplen is the snaplen, len the size on the wire', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, snaplen: 60 });
    const got = take(cap, 1);
    await sendUdp(sink.port, [Buffer.alloc(500, 7)]);
    const [p] = await got;
    expect(p.caplen).toBe(60);
    expect(p.data.length).toBe(60);
    expect(p.len).toBe(UDP_HEADERS + 500);
    sink.close();
  });
});

/** An Ethernet/IPv4/UDP frame to 127.0.0.1:port with a correct IP header checksum. */
function udpFrame(port: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(UDP_HEADERS + payload.length);
  frame.writeUInt16BE(0x0800, 12);
  const ip = frame.subarray(14, 34);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.writeUInt32BE(0x7f000001, 12);
  ip.writeUInt32BE(0x7f000001, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  frame.writeUInt16BE(40000, 34);
  frame.writeUInt16BE(port, 36);
  frame.writeUInt16BE(8 + payload.length, 38);
  payload.copy(frame, UDP_HEADERS);
  return frame;
}
