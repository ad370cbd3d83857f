// Flows, TCP streams and IP defragmentation against tshark 4.0: generated
// traces (seeded: reordered, duplicated, dropped and overlapping segments
// and fragments, sequence wraparound, mid-stream starts, IPv4 and IPv6) and
// real traffic recorded on lo. Each comparison runs tshark once per trace.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import dgram from 'node:dgram';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decode, Defragmenter, openLive, openOffline, PacketBatch, tcpStreams, trackFlows, type Flow, type TcpStream } from '../lib';
import { describeLive } from './helpers/live';
import { pcapBytes } from './helpers/trace';
import { waitFor } from './helpers/traffic';
import { endpoints, missing, pair, tsharkConversations, tsharkFollow, tsharkPackets, tsharkSize, type TsharkPackets } from './helpers/tshark-conv';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tcpConversations, fragmentedDatagrams } = require('./helpers/conversations.js');

const execFileAsync = promisify(execFile);

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

/**
 * conv,ipv4 and conv,ipv6 from the flows, summed per address pair (tshark's
 * IP conversations are every protocol between two addresses). Traces
 * without fragments only: tshark counts each fragment frame there, the
 * flows count a reassembled datagram once.
 */
function compareIpConversations(file: string, flows: Flow[]): void {
  const tables = tsharkConversations(file, ['ipv4', 'ipv6']);
  const sums = new Map<string, Map<string, [number, number]>>();
  for (const f of flows) {
    const from = (a: string, b: string, side: { packets: number; bytes: number }): void => {
      const m = sums.get(pair(a, b)) ?? new Map<string, [number, number]>();
      const t = m.get(a) ?? [0, 0];
      t[0] += side.packets;
      t[1] += side.bytes;
      m.set(a, t);
      sums.set(pair(a, b), m);
    };
    from(f.key.src, f.key.dst, f.client);
    from(f.key.dst, f.key.src, f.server);
  }
  const rows = [...(tables.ipv4 ?? []), ...(tables.ipv6 ?? [])];
  expect(rows.length).toBe(sums.size);
  for (const c of rows) {
    const m = sums.get(pair(c.a, c.b))!;
    const [aFrames, aBytes] = m.get(c.a) ?? [0, 0];
    // Between an address and itself (lo), tshark counts every frame from a to b.
    const [bFrames, bBytes] = c.a === c.b ? [0, 0] : (m.get(c.b) ?? [0, 0]);
    expect([aFrames, tsharkSize(aBytes), bFrames, tsharkSize(bBytes)]).toEqual([c.aToB.frames, c.aToB.bytes, c.bToA.frames, c.bToA.bytes]);
  }
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

/** How many times needle occurs in haystack. */
function occurrences(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) n++;
  return n;
}

const readOrEmpty = (file: string): Buffer => (fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0));

/** The states (hex, as /proc/net/tcp and tcp6 give them) of the TCP sockets with port at one end, but TIME_WAIT. */
function openTcp(port: number): string[] {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return ['tcp', 'tcp6']
    .flatMap((f) => fs.readFileSync(`/proc/net/${f}`, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && (f[1].endsWith(hex) || f[2].endsWith(hex)) && f[3] !== '06')
    .map((f) => f[3]);
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
    compareIpConversations(file, flows);
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

describeLive('real traffic on lo', () => {
  test('node http and curl over IPv4 and IPv6, UDP both ways: the live capture and the file tcpdump wrote give tshark conv,tcp/udp/ipv4/ipv6 and follow,tcp,raw', async () => {
    const server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(`got ${n} bytes for ${req.url}\n${'z'.repeat(40000)}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '::', resolve));
    const port = (server.address() as { port: number }).port;
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const udpPort = udp.address().port;
    udp.on('message', (m, from) => udp.send(m.subarray(0, 100), from.port, from.address));
    const filter = `tcp port ${port} or udp port ${udpPort}`;
    const file = path.join(dir, 'lo.pcap');
    const tcpdump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-B', '65536', '-U', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    tcpdump.stderr.on('data', (d) => (said += d));
    const live = openLive('lo', { filter, timeoutMs: 10 });
    // The last datagram and its echo: once both captures hold them twice, they hold all before them.
    const sentinel = Buffer.from(`wirecap-flows-end-${udpPort}`);
    let liveSentinels = 0;
    const watched = async function* (): AsyncGenerator<PacketBatch> {
      for await (const batch of live.batches()) {
        liveSentinels += occurrences(Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.length), sentinel);
        yield batch;
      }
    };
    const liveFlows: Flow[] = [];
    const tracking = (async () => {
      for await (const f of trackFlows(watched(), { linktype: live.linktype })) liveFlows.push(f);
    })();
    await waitFor(() => said.includes('listening on'), 10000, 'tcpdump to start');
    // Node's client (keep-alive off: a connection per request), then curl, over both address families.
    for (const host of ['127.0.0.1', '::1']) {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.request({ host, port, path: `/node/${i}`, method: 'POST', agent: false }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(Buffer.alloc(5000 * (i + 1), 0x61));
        });
      }
      await execFileAsync('curl', ['-s', '-o', '/dev/null', '--data-binary', 'x'.repeat(3000), `http://${host.includes(':') ? `[${host}]` : host}:${port}/curl`]);
    }
    const client = dgram.createSocket('udp4');
    let echoes = 0;
    client.on('message', () => echoes++);
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => client.send(Buffer.alloc(200 + i * 1000, i), udpPort, '127.0.0.1', () => resolve()));
    await waitFor(() => echoes === 5, 10000, 'the five echoes');
    // Every connection closed at both ends (the server's last ACK in): nothing of theirs is still on the way.
    await new Promise((resolve) => server.close(resolve));
    await waitFor(() => openTcp(port).length === 0, 10000, 'every connection closed at both ends');
    client.send(sentinel, udpPort, '127.0.0.1');
    await waitFor(() => echoes === 6, 10000, 'the last echo');
    await waitFor(() => liveSentinels === 2 && occurrences(readOrEmpty(file), sentinel) === 2, 15000, 'both captures to take the last datagram and its echo');
    client.close();
    udp.close();
    tcpdump.kill('SIGINT');
    await new Promise((resolve) => tcpdump.on('exit', resolve));
    await live.close();
    await tracking;
    // Both captures must hold every packet, or the comparison below says nothing.
    expect(said).toMatch(/\b0 packets dropped by kernel/);
    expect(live.stats()).toMatchObject({ dropped: 0, consumerDropped: 0 });
    const fromFile = await flowsOf(file);
    const packets = tsharkPackets(file);
    // 8 TCP connections and 1 UDP conversation (its last datagram the sentinel).
    expect(compareConversations(file, fromFile, packets)).toBe(9);
    expect(compareConversations(file, liveFlows, packets)).toBe(9);
    expect(fromFile.filter((f) => f.key.protocol === 6).every((f) => f.tcp!.state === 'SF' && f.tcp!.rttNs !== null && !f.directionGuessed)).toBe(true);
    compareIpConversations(file, fromFile);
    const [streams, bytes] = await compareStreams(file, packets);
    expect(streams).toBe(8);
    expect(bytes).toBeGreaterThan(8 * 40000);
  });
});
