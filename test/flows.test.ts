// FlowTracker, Defragmenter and TCP reassembly on crafted packets: the
// bounds and timeouts (packet time, every eviction counted), TCP state,
// overlap policies, hostile fragments, VLAN and IP-in-IP keys, the sources.
import { Readable } from 'node:stream';
import { Defragmenter, FlowTracker, PacketBatch, tcpStreams, trackFlows, type Flow, type Packet } from '../lib';
import { binding } from '../lib/core/binding';
import { LAYOUT } from '../lib/flows/table';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tcpSegment, udpDatagram, ipHeader, address, tcpConversations, fragmentedDatagrams } = require('./helpers/conversations.js');

const T0 = 1_700_000_000_000_000_000n;
const S = 1_000_000_000n;
const A = address(false, 1);
const B = address(false, 2);
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;
const PSH = 0x08;

const packet = (data: Buffer, timestamp: bigint): Packet => ({ timestamp, data, caplen: data.length, len: data.length });
const udp = (sport: number, dport: number, t: bigint, payload = Buffer.alloc(10), src = A, dst = B): Packet => packet(udpDatagram(false, src, dst, sport, dport, payload), t);
const tcp = (fromA: boolean, seq: number, ack: number, flags: number, t: bigint, payload: Buffer<ArrayBufferLike> = Buffer.alloc(0)): Packet =>
  packet(fromA ? tcpSegment(false, A, B, 40000, 80, seq, ack, flags, payload) : tcpSegment(false, B, A, 80, 40000, seq, ack, flags, payload), t);

/** Runs packets through a tracker; the flows in the order they ended. */
function run(packets: Packet[], options: ConstructorParameters<typeof FlowTracker>[0] = {}): { flows: Flow[]; tracker: FlowTracker } {
  const tracker = new FlowTracker(options);
  const flows: Flow[] = [];
  tracker.on('flow', (f: Flow) => flows.push(f));
  for (const p of packets) tracker.addPacket(p, 1);
  tracker.end();
  return { flows, tracker };
}

/** A whole connection: handshake, a request and a response, FIN both ways; times 1 ms apart from t. */
function connection(t: bigint, request: Buffer<ArrayBufferLike>, response: Buffer<ArrayBufferLike>): Packet[] {
  const ms = 1_000_000n;
  return [
    tcp(true, 100, 0, SYN, t),
    tcp(false, 5000, 101, SYN | ACK, t + ms),
    tcp(true, 101, 5001, ACK, t + 2n * ms),
    tcp(true, 101, 5001, PSH | ACK, t + 3n * ms, request),
    tcp(false, 5001, 101 + request.length, PSH | ACK, t + 4n * ms, response),
    tcp(true, 101 + request.length, 5001 + response.length, FIN | ACK, t + 5n * ms),
    tcp(false, 5001 + response.length, 102 + request.length, FIN | ACK, t + 6n * ms),
    tcp(true, 102 + request.length, 5002 + response.length, ACK, t + 7n * ms),
  ];
}

describe('FlowTracker', () => {
  test('a TCP connection: client and server, packets and bytes per side, handshake RTT, conn_state SF, Zeek history', () => {
    const { flows } = run(connection(T0, Buffer.from('GET /'), Buffer.from('200 OK!')));
    expect(flows).toHaveLength(1);
    const f = flows[0];
    expect(f.key).toEqual({ version: 4, protocol: 6, src: '10.0.0.1', srcPort: 40000, dst: '10.0.0.2', dstPort: 80 });
    expect(f.client).toEqual({ packets: 5, bytes: 5 * 54 + 5, payloadBytes: 5 });
    expect(f.server).toEqual({ packets: 3, bytes: 3 * 54 + 7, payloadBytes: 7 });
    expect(f.tcp).toEqual({ state: 'SF', history: 'ShADdFf', rttNs: 2_000_000, missedBytes: 0, overlapConflicts: 0 });
    expect([f.first, f.last, f.endReason, f.directionGuessed]).toEqual([T0, T0 + 7_000_000n, 'closed', false]);
  });

  test('conn_state: S0 (SYN alone), REJ (SYN answered by RST), RSTO, OTH with a guessed direction (mid-stream)', () => {
    expect(run([tcp(true, 1, 0, SYN, T0)]).flows[0].tcp!.state).toBe('S0');
    expect(run([tcp(true, 1, 0, SYN, T0), tcp(false, 0, 2, RST | ACK, T0 + 1n)]).flows[0].tcp!.state).toBe('REJ');
    expect(run([...connection(T0, Buffer.from('a'), Buffer.from('b')).slice(0, 4), tcp(true, 102, 5001, RST, T0 + S)]).flows[0].tcp!.state).toBe('RSTO');
    const mid = run([tcp(false, 9000, 300, PSH | ACK, T0, Buffer.from('late'))]).flows[0];
    expect(mid.tcp!.state).toBe('OTH');
    // The server's packet came first; the higher port is taken as the client's.
    expect([mid.directionGuessed, mid.key.srcPort, mid.tcp!.history]).toEqual([true, 40000, '^d']);
  });

  test('a SYN on a closed connection (port reuse) starts a new flow; the closed one ends "closed"', () => {
    const { flows } = run([...connection(T0, Buffer.from('a'), Buffer.from('b')), ...connection(T0 + S, Buffer.from('c'), Buffer.from('d'))]);
    expect(flows.map((f) => [f.id, f.endReason, f.tcp!.state])).toEqual([
      [0, 'closed', 'SF'],
      [1, 'closed', 'SF'],
    ]);
  });

  test('idle timeouts run on packet time: a UDP flow quiet for more than 60 s ends "idle", the next packet starts a new flow', () => {
    const { flows, tracker } = run([udp(1000, 53, T0), udp(1000, 53, T0 + 59n * S), udp(1000, 53, T0 + 120n * S)]);
    expect(flows.map((f) => [f.endReason, f.client.packets])).toEqual([
      ['idle', 2],
      ['end', 1],
    ]);
    expect(tracker.stats.ended).toEqual({ closed: 0, idle: 1, evicted: 0, end: 1 });
    // Timeouts are options, in nanoseconds.
    expect(run([udp(1000, 53, T0), udp(1000, 53, T0 + 2n * S)], { timeouts: { udp: 1e9 } }).flows.map((f) => f.endReason)).toEqual(['idle', 'end']);
  });

  test('maxFlows bounds the table: the least recently seen flow is evicted for a new one, and counted', () => {
    const packets = Array.from({ length: 100 }, (_, i) => udp(1000 + i, 53, T0 + BigInt(i)));
    const tracker = new FlowTracker({ maxFlows: 10 });
    const ended: Flow[] = [];
    tracker.on('flow', (f: Flow) => ended.push(f));
    let most = 0;
    for (const p of packets) {
      tracker.addPacket(p, 1);
      most = Math.max(most, tracker.stats.active);
    }
    expect(most).toBe(10);
    expect(ended.map((f) => f.key.srcPort)).toEqual(Array.from({ length: 90 }, (_, i) => 1000 + i));
    expect(tracker.stats.ended.evicted).toBe(90);
    tracker.end();
    expect(tracker.stats).toMatchObject({ flows: 100, active: 0, ended: { evicted: 90, end: 10 } });
  });

  test('VLAN ids join the key only when asked; IP in IP is keyed by the inner addresses', () => {
    const tagged = (vlan: number): Packet => {
      const frame = udpDatagram(false, A, B, 1000, 53, Buffer.alloc(4));
      const tag = Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff]);
      return packet(Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]), T0);
    };
    expect(run([tagged(10), tagged(20)]).flows).toHaveLength(1);
    const keyed = run([tagged(10), tagged(20)], { vlan: true }).flows;
    expect(keyed.map((f) => f.key.vlan)).toEqual([10, 20]);
    // 10.0.0.9 -> 10.0.0.8 carrying 10.0.0.1 -> 10.0.0.2 UDP.
    const inner = udpDatagram(false, A, B, 1000, 53, Buffer.alloc(4)).subarray(14);
    const outer = Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([8, 0]), ipHeader(false, address(false, 9), address(false, 8), 4, inner.length), inner]);
    const [f] = run([packet(outer, T0)]).flows;
    expect(f.key).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 1000, dstPort: 53 });
  });

  test('bad options are EINVAL naming them; a tracker that ended takes no more packets', () => {
    expect(() => new FlowTracker({ maxflows: 3 } as never)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining("'maxflows'") }));
    expect(() => new FlowTracker({ maxFlows: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new FlowTracker({ timeouts: { udp: -1 } })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const t = new FlowTracker();
    t.end();
    expect(() => t.addPacket(udp(1, 2, T0), 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

/** The packets as one PacketBatch (as a capture or a file delivers them). */
function batchOf(packets: Packet[]): PacketBatch {
  const meta = new ArrayBuffer(20 * packets.length);
  const b = new PacketBatch(Buffer.concat(packets.map((p) => p.data)), meta, packets.length);
  let at = 0;
  packets.forEach((p, i) => {
    b.timestamps[i] = p.timestamp;
    b.caplens[i] = p.data.length;
    b.lens[i] = p.len;
    b.offsets[i] = at;
    at += p.data.length;
  });
  return b;
}

describe('FlowTracker: frames read in place', () => {
  test('Ethernet frames in batches (read in place) give the same flows and counters as the same frames one by one (through PacketColumns), messy and mutated traffic included', () => {
    let seed = 7;
    const random = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const tcp = tcpConversations({ seed: 5, connections: 80, v6: 0.4, wrap: 0.3, midstream: 0.15, drop: 0.05, duplicate: 0.1, reorder: 0.1 }).frames;
    const fragments = fragmentedDatagrams({ seed: 6, datagrams: 20, lose: 0.2, duplicate: 0.3, overlap: 0.3, reorder: 0.3 }).frames;
    const frames: { timestamp: bigint; data: Buffer }[] = [...tcp, ...fragments].sort((x, y) => (x.timestamp < y.timestamp ? -1 : x.timestamp > y.timestamp ? 1 : 0));
    // Frames the in-place reader must leave to PacketColumns, or read exactly as it would: cut, tagged, with IP options, bytes changed.
    const packets = frames.map(({ timestamp, data }): Packet => {
      let d = Buffer.from(data);
      const r = random();
      if (r < 0.05) d = d.subarray(0, Math.floor(random() * d.length));
      else if (r < 0.1) d = Buffer.concat([d.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x07]), d.subarray(12)]);
      else if (r < 0.15 && d.readUInt16BE(12) === 0x0800) d[14] = 0x46;
      else if (r < 0.25) for (let k = 0; k < 3; k++) d[Math.floor(random() * Math.min(d.length, 80))] = Math.floor(random() * 256);
      return { timestamp, data: d, caplen: d.length, len: data.length };
    });
    expect(inBatchesAndByOne(packets, { vlan: true })).toBeGreaterThan(100);
  });

  test('the native fast path is built for the table layout lib/flows/table.ts declares', () => {
    expect(binding.FlowPass.layout()).toEqual(LAYOUT);
  });

  test('batches taken by the native fast path end the same flows in the same order as one by one, with tight timeouts and maxFlows: idle ends, evictions, port reuse, handshake RTTs, IPv6, sequence wraparound', () => {
    const frames = tcpConversations({ seed: 11, connections: 300, v6: 0.5, wrap: 0.3, midstream: 0.1, drop: 0.05, duplicate: 0.1, reorder: 0.1, spreadUs: 20_000, gapUs: 400 }).frames;
    // Every connection again on the same ports, after the first has closed: port reuse on closed flows.
    const again = frames.map((f: { timestamp: bigint; data: Buffer }) => ({ timestamp: f.timestamp + 30_000_000n, data: f.data }));
    const udpFlows = Array.from({ length: 2000 }, (_, i) => udp(1000 + (i % 40), 53, T0 + BigInt(i) * 50_000n, Buffer.alloc(i % 7)));
    const packets = [...frames, ...again].map(({ timestamp, data }): Packet => ({ timestamp, data, caplen: data.length, len: data.length + 4 }));
    const all = [...packets, ...udpFlows].sort((x, y) => (x.timestamp < y.timestamp ? -1 : x.timestamp > y.timestamp ? 1 : 0));
    const options = { maxFlows: 64, timeouts: { tcp: 2_000_000, tcpClosed: 500_000, udp: 1_000_000 } };
    const ended = run(all, options).tracker.stats.ended;
    // The options bite: flows end by every reason.
    expect(Math.min(ended.closed, ended.idle, ended.evicted, ended.end)).toBeGreaterThan(0);
    expect(inBatchesAndByOne(all, options)).toBeGreaterThan(1000);
    expect(inBatchesAndByOne(all, {})).toBeGreaterThan(500);
  });
});

test('a PacketBatch whose offsets or caplens point past its bytes: no throw and no read past them; a packet that starts past the end is not IP, one whose caplen runs past it ends with the bytes', () => {
  const frames = tcpConversations({ seed: 1, connections: 20 }).frames as { timestamp: bigint; data: Buffer }[];
  const batch = batchOf(frames.map(({ timestamp, data }) => packet(data, timestamp)));
  const pastTheEnd = new Set<number>();
  for (let i = 5; i < batch.count; i += 7) {
    batch.offsets[i] = batch.data.length - 3;
    pastTheEnd.add(i);
  }
  for (let i = 9; i < batch.count; i += 11) batch.caplens[i] = 0xffffffff;
  const tracker = new FlowTracker();
  tracker.addBatch(batch, 1);
  tracker.end();
  expect(tracker.stats).toMatchObject({ packets: batch.count, notIp: pastTheEnd.size, flows: 20, active: 0 });
});

/** Runs packets through a tracker in batches of 97 and through another one by one (PacketColumns' path): the same flows in the same order, the same stats. Returns the flow count. */
function inBatchesAndByOne(packets: Packet[], options: ConstructorParameters<typeof FlowTracker>[0]): number {
  const byOne = run(packets, options);
  const inBatches = new FlowTracker(options);
  const flows: Flow[] = [];
  inBatches.on('flow', (f: Flow) => flows.push(f));
  for (let i = 0; i < packets.length; i += 97) inBatches.addBatch(batchOf(packets.slice(i, i + 97)), 1);
  inBatches.end();
  expect(flows).toEqual(byOne.flows);
  expect(inBatches.stats).toEqual(byOne.tracker.stats);
  return flows.length;
}

describe('TCP reassembly', () => {
  const collect = (packets: Packet[], reassembly = {}): { events: string[]; flows: Flow[]; tracker: FlowTracker } => {
    const events: string[] = [];
    const r = run(packets, {
      reassembly,
      streams: () => ({
        onData: (d, bytes, info) => events.push(`${d} ${info.offset} ${bytes.toString()}`),
        onGap: (d, n, info) => events.push(`${d} ${info.offset} gap ${n}`),
        onOverlap: (d, n, info) => events.push(`${d} ${info.offset} overlap ${n}`),
        onEnd: (reason) => events.push(`end ${reason}`),
      }),
    });
    return { events, ...r };
  };
  const hs = [tcp(true, 100, 0, SYN, T0), tcp(false, 5000, 101, SYN | ACK, T0 + 1n), tcp(true, 101, 5001, ACK, T0 + 2n)];

  test('out of order, retransmitted and overlapping segments come out once, in order; differing overlapped bytes are reported and the first copy kept', () => {
    const { events, flows } = collect([
      ...hs,
      tcp(true, 106, 5001, ACK, T0 + 3n, Buffer.from('world')),
      tcp(true, 101, 5001, ACK, T0 + 4n, Buffer.from('hello')),
      tcp(true, 101, 5001, ACK, T0 + 5n, Buffer.from('hello')), // retransmission, same bytes
      tcp(true, 104, 5001, ACK, T0 + 6n, Buffer.from('LOWORLD!')), // overlaps "loworld" with other bytes, then "!"
    ]);
    expect(events).toEqual(['client 0 hello', 'client 5 world', 'client 3 overlap 7', 'client 10 !', 'end end']);
    expect(flows[0].tcp).toMatchObject({ overlapConflicts: 7, missedBytes: 0 });
  });

  test('a hole is an explicit gap with its length, declared when the peer acknowledges past it or at the end, never joined silently', () => {
    const acked = collect([...hs, tcp(true, 111, 5001, ACK, T0 + 3n, Buffer.from('after')), tcp(false, 5001, 116, ACK, T0 + 4n)]).events;
    expect(acked).toEqual(['client 0 gap 10', 'client 10 after', 'end end']);
    const { events, flows } = collect([...hs, tcp(true, 111, 5001, ACK, T0 + 3n, Buffer.from('after'))]);
    expect(events).toEqual(['client 0 gap 10', 'client 10 after', 'end end']);
    expect(flows[0].tcp!.missedBytes).toBe(10);
  });

  test('sequence numbers wrap: bytes across 2^32 stay in order', () => {
    const isn = 0xfffffffd;
    const { events } = collect([
      tcp(true, isn, 0, SYN, T0),
      tcp(true, (isn + 3) % 2 ** 32, 0, ACK, T0 + 1n, Buffer.from('cdef')), // sequence number 0: held
      tcp(true, isn + 1, 0, ACK, T0 + 2n, Buffer.from('ab')),
      tcp(true, isn + 2, 0, ACK, T0 + 3n, Buffer.from('XX')), // overlaps "b" and "c" across the wrap: conflicts
    ]);
    expect(events).toEqual(['client 0 ab', 'client 2 cdef', 'client 1 overlap 2', 'end end']);
  });

  test('held out-of-order bytes are bounded per stream: over the bound, the hole before them is given up as a gap and counted', () => {
    const ahead = Array.from({ length: 8 }, (_, i) => tcp(true, 1101 + 100 * i, 5001, ACK, T0 + 3n + BigInt(i), Buffer.alloc(100, 0x61 + i)));
    const { events, tracker } = collect([...hs, ...ahead], { maxBufferedPerStream: 500 });
    expect(events[0]).toBe('client 0 gap 1000');
    expect(events.filter((e) => e.includes('gap'))).toHaveLength(1);
    expect(tracker.stats.reassembly).toEqual({ heldBytes: 0, gapBytes: 1000, forcedGaps: 1 });
  });

  test('held bytes are bounded in total across streams', () => {
    const packets: Packet[] = [];
    for (let c = 0; c < 20; c++) {
      const port = 30000 + c;
      packets.push(packet(tcpSegment(false, A, B, port, 80, 100, 0, SYN, Buffer.alloc(0)), T0 + BigInt(c)));
      packets.push(packet(tcpSegment(false, A, B, port, 80, 201, 0, ACK, Buffer.alloc(300, 1)), T0 + 100n + BigInt(c)));
    }
    let most = 0;
    const tracker = new FlowTracker({ reassembly: { maxBuffered: 2000 }, streams: () => ({}) });
    for (const p of packets) {
      tracker.addPacket(p, 1);
      most = Math.max(most, tracker.stats.reassembly.heldBytes);
    }
    expect(most).toBeLessThanOrEqual(2000);
    expect(tracker.stats.reassembly.forcedGaps).toBeGreaterThan(0);
  });

  test('tcpStreams gives each connection\'s client and server bytes, for await or as a Node object stream', async () => {
    const packets = [...connection(T0, Buffer.from('GET / HTTP/1.0\r\n\r\n'), Buffer.from('HTTP/1.0 200 OK\r\n\r\nhi'))];
    for await (const s of tcpStreams(packets, { linktype: 1 })) {
      expect([s.client.data.toString(), s.server.data.toString(), s.client.gaps]).toEqual(['GET / HTTP/1.0\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\nhi', []]);
    }
    const viaStream = await Readable.from(tcpStreams(packets, { linktype: 1 })).toArray();
    expect(viaStream).toHaveLength(1);
  });
});

describe('Defragmenter', () => {
  /** IPv4 fragments of one datagram: [payload offset, bytes, more]. */
  const fragments = (id: number, parts: [number, Buffer, boolean][], t = T0): Packet[] =>
    parts.map(([at, bytes, more], i) => packet(Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([8, 0]), ipHeader(false, A, B, 17, bytes.length, id, (more ? 0x2000 : 0) | (at / 8)), bytes]), t + BigInt(i)));
  const udpPayload = (n: number): Buffer => {
    const b = Buffer.alloc(n, 0x41);
    b.writeUInt16BE(1000, 0);
    b.writeUInt16BE(53, 2);
    b.writeUInt16BE(n, 4);
    return b;
  };

  test('overlapping fragments that differ: the first copy wins and the datagram is flagged', () => {
    const p = udpPayload(32);
    const other = Buffer.from(p.subarray(8, 24)).fill(0x42);
    const d = new Defragmenter();
    const results = fragments(1, [[0, p.subarray(0, 16), true], [8, other, true], [16, p.subarray(16), false]]).map((x) => d.add(x, 1));
    const last = results[2];
    expect(last.status).toBe('reassembled');
    if (last.status === 'reassembled') {
      expect(last.conflict).toBe(true);
      // Bytes 8-15 came first from the first fragment, 16-23 from the second.
      const kept = Buffer.from(p);
      kept.fill(0x42, 16, 24);
      expect(last.packet.data.subarray(34).equals(kept)).toBe(true);
    }
    expect(d.stats).toMatchObject({ reassembled: 1, conflicts: 1, pending: 0, heldBytes: 0 });
  });

  test('hostile fragments never throw and are given up, counted: tiny, past 65,535 bytes, too many, two different ends', () => {
    const d = new Defragmenter({ maxFragments: 8 });
    const tiny = fragments(2, [[0, Buffer.alloc(4), true], [8, Buffer.alloc(8), false]]).map((x) => d.add(x, 1));
    expect(tiny[0]).toEqual({ status: 'dropped', reason: expect.stringContaining('malformed') });
    expect(d.add(fragments(3, [[65528, Buffer.alloc(16), false]])[0], 1)).toEqual({ status: 'dropped', reason: 'tooBig' });
    const many = fragments(4, Array.from({ length: 9 }, (_, i) => [8 * i, Buffer.alloc(8), true] as [number, Buffer, boolean])).map((x) => d.add(x, 1));
    expect(many[8]).toEqual({ status: 'dropped', reason: 'tooManyFragments' });
    const ends = fragments(5, [[8, Buffer.alloc(16), false], [8, Buffer.alloc(24), false]]).map((x) => d.add(x, 1));
    expect(ends[1]).toEqual({ status: 'dropped', reason: expect.stringContaining('two different last fragments') });
    expect(d.stats).toMatchObject({ tooBig: 1, tooManyFragments: 1, reassembled: 0 });
    expect(d.stats.malformed).toBeGreaterThanOrEqual(2);
  });

  test('a flood of incomplete datagrams stays within maxDatagrams and maxBytes; each one given up is counted with its bytes; old ones time out in packet time', () => {
    const d = new Defragmenter({ maxDatagrams: 100, maxBytes: 64 * 1024, timeout: 5e9 });
    let most = 0;
    let mostBytes = 0;
    for (let i = 0; i < 20000; i++) {
      d.add(fragments(i & 0xffff, [[0, Buffer.alloc(1024), true]], T0 + BigInt(i) * 1000n)[0], 1);
      most = Math.max(most, d.stats.pending);
      mostBytes = Math.max(mostBytes, d.stats.heldBytes);
    }
    expect(most).toBeLessThanOrEqual(100);
    expect(mostBytes).toBeLessThanOrEqual(64 * 1024);
    expect(d.stats.evicted).toBe(20000 - d.stats.pending);
    expect(d.stats.bytesGivenUp).toBe(1024 * d.stats.evicted);
    d.add(fragments(1, [[0, Buffer.alloc(8), true]], T0 + 60n * S)[0], 1);
    expect(d.stats.timedOut).toBeGreaterThan(0);
    expect(d.stats.pending).toBe(1);
  });

  test('a fragmented UDP datagram counts once in its flow, and its datagram reaches onDatagram whole', () => {
    const p = udpPayload(48);
    const got: Buffer[] = [];
    const { flows } = run(fragments(6, [[24, p.subarray(24), false], [0, p.subarray(0, 24), true]]), { streams: () => ({ onDatagram: (_d, bytes, info) => void got.push(Buffer.from(bytes), Buffer.from(String(info.reassembled))) }) });
    expect(flows).toHaveLength(1);
    expect(flows[0].client).toMatchObject({ packets: 1, payloadBytes: 40 });
    expect(got.map((b) => b.toString('latin1'))).toEqual([p.subarray(8).toString('latin1'), 'true']);
  });
});

describe('trackFlows sources', () => {
  test('packets with a linktype option, and messages that say their link type (as a JetStream consumer gives)', async () => {
    const packets = connection(T0, Buffer.from('x'), Buffer.from('y'));
    const fromPackets: Flow[] = [];
    for await (const f of trackFlows(packets, { linktype: 1 })) fromPackets.push(f);
    const consumer = {
      async *batches() {
        yield { linktype: 1, packets: packets.slice(0, 4) };
        yield { linktype: 1, packets: packets.slice(4) };
      },
    };
    const fromMessages: Flow[] = [];
    for await (const f of trackFlows(consumer)) fromMessages.push(f);
    expect(fromMessages).toEqual(fromPackets);
    expect(fromPackets[0].tcp!.state).toBe('SF');
    await expect(trackFlows(packets).next()).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
