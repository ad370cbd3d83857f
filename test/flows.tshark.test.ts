// Flows, TCP streams and IP defragmentation against tshark 4.0: generated
// traces (seeded: reordered, duplicated, dropped and overlapping segments
// and fragments, sequence wraparound, mid-stream starts, IPv4 and IPv6) and
// real traffic recorded on lo. Each comparison runs tshark once per trace.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decode, Defragmenter, openOffline, tcpStreams, trackFlows, type Flow, type TcpStream } from '../lib';
import { pcapBytes } from './helpers/trace';
import { endpoints, missing, pair, tsharkConversations, tsharkFollow, tsharkPackets, tsharkSize, type TsharkPackets } from './helpers/tshark-conv';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tcpConversations, fragmentedDatagrams } = require('./helpers/conversations.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-flows-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function flowsOf(file: string): Promise<Flow[]> {
  const list: Flow[] = [];
  for await (const f of trackFlows(openOffline(file))) list.push(f);
  return list;
}

/**
 * Every TCP and UDP flow against tshark's conv tables (frames per direction
 * exactly, bytes as tshark rounds them) and against the exact frame bytes
 * per direction summed from tshark's fields. Returns how many were compared.
 */
function compareConversations(file: string, flows: Flow[], packets: TsharkPackets): number {
  const tables = tsharkConversations(file, ['tcp', 'udp']);
  let compared = 0;
  for (const proto of ['tcp', 'udp'] as const) {
    const mine = new Map(flows.filter((f) => f.key.protocol === (proto === 'tcp' ? 6 : 17)).map((f) => [pair(...endpoints(f)), f]));
    expect(mine.size).toBe(tables[proto].length);
    for (const c of tables[proto]) {
      const f = mine.get(pair(c.a, c.b));
      expect(f).toBeDefined();
      const [client] = endpoints(f!);
      const [fromClient, fromServer] = client === c.a ? [c.aToB, c.bToA] : [c.bToA, c.aToB];
      expect([f!.client.packets, f!.server.packets]).toEqual([fromClient.frames, fromServer.frames]);
      expect([tsharkSize(f!.client.bytes), tsharkSize(f!.server.bytes)]).toEqual([fromClient.bytes, fromServer.bytes]);
      const [a, b] = endpoints(f!);
      expect([f!.client.packets, f!.client.bytes]).toEqual(packets.directions.get(`${proto} ${a}>${b}`) ?? [0, 0]);
      expect([f!.server.packets, f!.server.bytes]).toEqual(packets.directions.get(`${proto} ${b}>${a}`) ?? [0, 0]);
      compared++;
    }
  }
  return compared;
}

/** A direction's bytes with each gap written as tshark's follow writes it. */
function withMarkers(side: TcpStream['client']): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const g of side.gaps) {
    parts.push(side.data.subarray(at, g.at), missing(g.length));
    at = g.at;
  }
  parts.push(side.data.subarray(at));
  return Buffer.concat(parts);
}

/** Every TCP stream byte for byte against follow,tcp,raw; returns [streams, bytes] compared. */
async function compareStreams(file: string, packets: TsharkPackets): Promise<[number, number]> {
  const streams: TcpStream[] = [];
  for await (const s of tcpStreams(openOffline(file))) streams.push(s);
  const index = packets.streams;
  const followed = tsharkFollow(file, [...new Set(index.values())]);
  expect(streams.length).toBe(followed.size);
  let bytes = 0;
  for (const s of streams) {
    const [client, server] = endpoints(s.flow);
    const t = followed.get(index.get(pair(client, server))!)!;
    const mine = [withMarkers(s.client), withMarkers(s.server)];
    const theirs = t.node0 === client ? t.bytes : [t.bytes[1], t.bytes[0]];
    expect(mine[0].equals(theirs[0])).toBe(true);
    expect(mine[1].equals(theirs[1])).toBe(true);
    bytes += s.client.data.length + s.server.data.length;
  }
  return [streams.length, bytes];
}

/** tshark's fields in two passes (-2), so that fragments know the frame they were reassembled in. */
function tsharkFields2(file: string, fields: string[]): string[][] {
  const out = execFileSync('tshark', ['-2', '-n', '-r', file, '-T', 'fields', '-E', 'separator=,', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split(','));
}

function writeTrace(name: string, frames: { timestamp: bigint; data: Buffer }[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pcapBytes(frames, { nano: true }));
  return file;
}

describe('generated TCP traces', () => {
  test('clean connections (IPv4 and IPv6, sequence wraparound): conversations and every stream byte for byte as tshark', async () => {
    const { frames } = tcpConversations({ seed: 11, connections: 60, v6: 0.4, wrap: 0.3 });
    const file = writeTrace('clean.pcap', frames);
    const flows = await flowsOf(file);
    const packets = tsharkPackets(file);
    expect(compareConversations(file, flows, packets)).toBe(60);
    expect(flows.every((f) => f.tcp!.state === 'SF' || f.tcp!.state === 'RSTO')).toBe(true);
    const [streams, bytes] = await compareStreams(file, packets);
    expect(streams).toBe(60);
    expect(bytes).toBeGreaterThan(100_000);
  });

  test('reordered, duplicated, overlapping (same bytes) and dropped segments, mid-stream starts: as tshark, gaps where tshark says bytes are missing', async () => {
    const { frames, truth } = tcpConversations({ seed: 12, connections: 60, v6: 0.4, wrap: 0.3, reorder: 0.1, duplicate: 0.1, overlap: 0.1, drop: 0.05, midstream: 0.15 });
    const file = writeTrace('messy.pcap', frames);
    const flows = await flowsOf(file);
    const packets = tsharkPackets(file);
    expect(compareConversations(file, flows, packets)).toBe(60);
    // Picked up mid-stream: no SYN, the direction is a guess (the higher port is the client's), Zeek's OTH.
    const mid = truth.filter((t: { midstream: boolean }) => t.midstream).length;
    expect(mid).toBeGreaterThan(3);
    expect(flows.filter((f) => f.directionGuessed).length).toBe(mid);
    const [streams] = await compareStreams(file, packets);
    expect(streams).toBe(60);
  });
});

describe('IP defragmentation', () => {
  test('IPv4 and IPv6 fragments (reordered, duplicated, overlapping with the same bytes, some lost): reassembled in the frame tshark names (ip.reassembled_in, ipv6.reassembled.in), the DNS answer decodes as tshark decodes it, and the datagram counts once in conv,udp', async () => {
    const { frames, truth } = fragmentedDatagrams({ seed: 21, datagrams: 40, v6: 0.5, reorder: 0.3, duplicate: 0.3, overlap: 0.3, lose: 0.15 });
    const file = writeTrace('fragments.pcap', frames);
    const rows = tsharkFields2(file, ['frame.number', 'ip.reassembled_in', 'ipv6.reassembled.in', 'dns.count.answers']);
    const theirs = new Map<number, number>(); // fragment frame -> frame of its reassembly (1-based)
    const answers = new Map<number, number>(); // frame -> DNS answers tshark decoded there
    for (const [n, in4, in6, count] of rows) {
      if (in4 || in6) theirs.set(Number(n), Number(in4 || in6));
      if (count) answers.set(Number(n), Number(count));
    }
    const defrag = new Defragmenter();
    const mine = new Map<number, number>();
    let reassembled = 0;
    for await (const p of openOffline(file)) {
      const r = defrag.add(p, 1);
      if (r.status !== 'reassembled') continue;
      reassembled++;
      const at = r.fragments[r.fragments.length - 1] + 1;
      for (const k of r.fragments) if (k + 1 !== at) mine.set(k + 1, at);
      const dns = decode(r.packet.data, 1).layers.find((l) => l.layer === 'dns');
      expect(dns !== undefined && dns.layer === 'dns' ? dns.answers.length : -1).toBe(answers.get(at));
    }
    defrag.clear();
    const complete = truth.filter((t: { complete: boolean }) => t.complete).length;
    expect(reassembled).toBe(complete);
    expect(defrag.stats).toMatchObject({ reassembled: complete, conflicts: 0, pending: 0, heldBytes: 0 });
    // Every fragment wirecap used went into the datagram tshark put it in.
    for (const [frame, at] of mine) expect(theirs.get(frame)).toBe(at);
    // A fragment wirecap did not use, tshark did not use either: one of a
    // datagram that never completed, or a duplicate that came after its
    // datagram was complete (wirecap holds it as a new datagram that never
    // completes, and counts it given up as incomplete at the end).
    const used = new Set([...mine.keys(), ...mine.values()]);
    for (let frame = 1; frame <= frames.length; frame++) if (!used.has(frame)) expect(theirs.get(frame)).toBeUndefined();
    expect(theirs.size).toBe(mine.size);
    expect(defrag.stats.incomplete).toBeGreaterThanOrEqual(truth.length - complete);
    // The flow table counts each reassembled datagram once, as conv,udp does.
    const flows = await flowsOf(file);
    expect(compareConversations(file, flows, tsharkPackets(file))).toBe(complete);
  });
});
