// PacketStreaming over gRPC, on loopback only: wirecap's exporter and
// collector, against each other and against an independent peer written
// with Debian's python3-grpcio (test/fixtures/grpc_peer.py).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCollector, IncomingStream, openLive, openOffline, streamPackets, StreamedPacket } from '../lib';
import { SUMMARIES_KEPT } from '../lib/stream/collector';
import { describeLive } from './helpers/live';
import { filePackets } from './helpers/tools';
import { pcapBytes, syntheticPackets } from './helpers/trace';
import { markedPayloads, ROOT, sendUdp, sleep, UDP_HEADERS, udpSink, waitFor } from './helpers/traffic';

// Debian's, with python3-grpcio; scripts/test-asan.sh names a wrapper.
const PYTHON = process.env.WIRECAP_PYTHON ?? '/usr/bin/python3';
const PEER = path.join(ROOT, 'test', 'fixtures', 'grpc_peer.py');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-stream-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Python modules for proto/packet_streaming.proto, its package renamed to protoPackage. */
function pythonModules(protoPackage: string): string {
  const out = path.join(dir, `py-${protoPackage}`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(out);
  const proto = fs.readFileSync(path.join(ROOT, 'proto', 'packet_streaming.proto'), 'utf8').replace(/^package .*;$/m, `package ${protoPackage};`);
  fs.writeFileSync(path.join(out, 'packet_streaming.proto'), proto);
  const wellKnown = execFileSync(PYTHON, ['-c', "import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'))"], { encoding: 'utf8' }).trim();
  execFileSync(PYTHON, ['-m', 'grpc_tools.protoc', '-I', out, '-I', wellKnown, `--python_out=${out}`, `--grpc_python_out=${out}`, path.join(out, 'packet_streaming.proto')]);
  return out;
}

/** What grpc_peer.py's good mode sends: packet i. */
function pythonPacket(i: number): { timestamp: bigint; caplen: number; len: number; hex: string } {
  const caplen = 60 + (i % 40);
  return {
    timestamp: BigInt(1700000000 + i) * 1_000_000_000n + BigInt(((i * 7) % 1000000) * 1000),
    caplen,
    len: caplen + 4,
    hex: Buffer.alloc(caplen, i % 256).toString('hex'),
  };
}

/** Runs the python client (without blocking this process, which may be its collector); resolves with what it printed. */
function pythonClient(modules: string, target: string, mode: string, n: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [PEER, modules, 'client', target, mode, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    const timer = setTimeout(() => child.kill(), 60000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(text.trim());
    });
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function collect(stream: IncomingStream): Promise<StreamedPacket[]> {
  const packets: StreamedPacket[] = [];
  for await (const p of stream) packets.push({ ...p, data: Buffer.from(p.data) });
  return packets;
}

const micro = (ns: bigint): bigint => (ns / 1000n) * 1000n;

describe('exporter to collector', () => {
  test('a trace arrives unchanged: timestamps to the microsecond, lengths and bytes, in the file tshark reads', async () => {
    const packets = syntheticPackets(3000);
    const trace = path.join(dir, 'trace.pcap');
    fs.writeFileSync(trace, pcapBytes(packets, { nano: true }));
    const out = path.join(dir, 'collected.pcap');
    const collector = await createCollector({ host: '127.0.0.1', write: { path: out } });
    const result = await streamPackets(`127.0.0.1:${collector.port}`, openOffline(trace), { segmentPackets: 1000 }).done;
    await collector.close();
    expect(result).toEqual({ sent: 3000, dropped: 0, reconnects: 0, buffered: 0 });
    expect(collector.summaries().map((s) => s.packets)).toEqual([1000, 1000, 1000]);
    const got = filePackets(out);
    expect(got.map((p) => [p.timestamp, p.caplen, p.len, p.hex])).toEqual(
      packets.map((p) => [micro(p.timestamp), p.data.length, p.len ?? p.data.length, p.data.toString('hex')]),
    );
  });

  test("over TLS, with the collector's certificate checked against its CA", async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    const collector = await createCollector({ host: '127.0.0.1', tls: { cert, key } });
    const seen = (async () => {
      const packets: StreamedPacket[] = [];
      for await (const stream of collector.streams()) {
        packets.push(...(await collect(stream)));
        if (packets.length === 50) return packets;
      }
      return packets;
    })();
    async function* source() {
      for (let i = 0; i < 50; i++) yield { timestamp: 1_700_000_000_000_001_000n + BigInt(i) * 1000n, caplen: 3, len: 3, data: Buffer.from([i, i, i]) };
    }
    const insecure = await streamPackets(`localhost:${collector.port}`, source(), { outageLimitMs: 300 }).done.catch((e) => e);
    expect(insecure.code).toBe('ECONNREFUSED');
    const result = await streamPackets(`localhost:${collector.port}`, source(), { tls: { ca: cert } }).done;
    expect(result.sent).toBe(50);
    expect((await seen).map((p) => p.data[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await collector.close();
  });

  test('a collector holds the summaries of the last 1000 streams that ended only, and counts every stream and packet', async () => {
    const n = SUMMARIES_KEPT + 10;
    const trace = path.join(dir, 'many-streams.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(n)));
    const collector = await createCollector({ host: '127.0.0.1' });
    // One packet per segment: a Run call, a stream, each.
    const result = await streamPackets(`127.0.0.1:${collector.port}`, openOffline(trace), { segmentPackets: 1 }).done;
    await collector.close();
    expect(result).toEqual({ sent: n, dropped: 0, reconnects: 0, buffered: 0 });
    expect(collector.ended()).toEqual({ streams: n, packets: n });
    expect(collector.summaries().map((s) => s.id)).toEqual(Array.from({ length: SUMMARIES_KEPT }, (_, i) => n - SUMMARIES_KEPT + 1 + i));
  });

  test('bad options and a bad source give EINVAL', () => {
    expect(() => streamPackets('127.0.0.1:1', [] as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => streamPackets('127.0.0.1:1', openOffline(path.join(dir, 'trace.pcap')), { segmentPackets: 0 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => streamPackets('127.0.0.1:1', openOffline(path.join(dir, 'trace.pcap')), { protoPackage: 'no spaces allowed' })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});

describeLive('a live capture as the source', () => {
  test('packets captured on lo reach the collector in order; closing the capture ends the export with all of them acknowledged', async () => {
    const sink = await udpSink();
    const collector = await createCollector({ host: '127.0.0.1' });
    const received: StreamedPacket[] = [];
    const seen = (async () => {
      for await (const stream of collector.streams()) received.push(...(await collect(stream)));
    })();
    // The filter keeps the export's own TCP traffic on lo out of the capture.
    const capture = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const sender = streamPackets(`127.0.0.1:${collector.port}`, capture, { segmentPackets: 100 });
    const payloads = markedPayloads('live-export', 250);
    await sendUdp(sink.port, payloads);
    await waitFor(() => sender.stats().sent === 250, 10000, 'every packet acknowledged');
    capture.close();
    const result = await sender.done;
    await collector.close();
    await seen;
    sink.close();
    expect(result).toEqual({ sent: 250, dropped: 0, reconnects: 0, buffered: 0 });
    expect(capture.stats()).toMatchObject({ dropped: 0, consumerDropped: 0 });
    expect(received.map((p) => p.data.subarray(UDP_HEADERS).toString())).toEqual(payloads.map((b) => b.toString()));
    expect(received.every((p) => p.caplen === p.data.length && p.len === p.caplen && p.timestamp % 1000n === 0n)).toBe(true);
    expect(received.every((p, i) => i === 0 || p.timestamp >= received[i - 1].timestamp)).toBe(true);
  });
});

describe("interop with python3-grpcio, under a package name of the peer's choosing", () => {
  test("a python client's stream reaches the collector, packet for packet", async () => {
    const collector = await createCollector({ host: '127.0.0.1', protoPackage: 'flow.v1' });
    const seen = (async () => {
      for await (const stream of collector.streams()) return { peer: stream.peer, packets: await collect(stream) };
      return null;
    })();
    expect(await pythonClient(pythonModules('flow.v1'), `127.0.0.1:${collector.port}`, 'good', 500)).toBe('ok');
    const got = await seen;
    expect(got?.peer).toMatch(/127\.0\.0\.1/);
    expect(got?.packets.map((p) => ({ timestamp: p.timestamp, caplen: p.caplen, len: p.len, hex: p.data.toString('hex') }))).toEqual(
      Array.from({ length: 500 }, (_, i) => pythonPacket(i)),
    );
    await collector.close();
  });

  test("the exporter's packets reach a python server, packet for packet", async () => {
    const port = await freePort();
    const out = path.join(dir, 'python-server.txt');
    const server = spawn(PYTHON, [PEER, pythonModules('flow.v1'), 'server', String(port), out], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => server.stdout!.on('data', (d) => String(d).includes('listening') && resolve()));
      const packets = syntheticPackets(700);
      const trace = path.join(dir, 'for-python.pcap');
      fs.writeFileSync(trace, pcapBytes(packets, { nano: true }));
      const result = await streamPackets(`127.0.0.1:${port}`, openOffline(trace), { protoPackage: 'flow.v1', segmentPackets: 350 }).done;
      expect(result.sent).toBe(700);
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').filter((l) => !l.startsWith('end'));
      expect(lines).toEqual(
        packets.map((p) => {
          const us = p.timestamp / 1000n;
          return `${us / 1_000_000n} ${us % 1_000_000n} ${p.data.length} ${p.len ?? p.data.length} ${p.data.toString('hex')}`;
        }),
      );
    } finally {
      server.kill();
    }
  });

  test("garbage bytes, caplen that is not the data's length, and an oversized packet each end their own stream; a good one goes on", async () => {
    const messages: string[] = [];
    const collector = await createCollector({ host: '127.0.0.1', protoPackage: 'flow.v1', maxCaplen: 65535, log: (m) => messages.push(m) });
    const modules = pythonModules('flow.v1');
    const target = `127.0.0.1:${collector.port}`;
    const runs = await Promise.all([
      pythonClient(modules, target, 'garbage', 0),
      pythonClient(modules, target, 'mismatch', 0),
      pythonClient(modules, target, 'oversized', 70000),
      pythonClient(modules, target, 'good', 300),
    ]);
    expect(runs).toEqual(['error INVALID_ARGUMENT', 'error INVALID_ARGUMENT', 'error INVALID_ARGUMENT', 'ok']);
    await collector.close();
    const codes = collector.summaries().map((s) => s.error?.code ?? `${s.packets} packets`).sort();
    expect(codes).toEqual(['300 packets', 'EMSGSIZE', 'EPROTO', 'EPROTO'].sort());
    expect(messages.join('\n')).toMatch(/caplen 10 but 5 bytes of data/);
  });
});

describe('peers that misbehave below the protocol', () => {
  test('a sender that breaks off mid-stream ends that stream with ECONNRESET; bytes that are not HTTP/2 harm no stream', async () => {
    const messages: string[] = [];
    const collector = await createCollector({ host: '127.0.0.1', log: (m) => messages.push(m) });
    // Not HTTP/2 at all: the collector neither crashes nor stops serving.
    const junk = net.connect(collector.port, '127.0.0.1');
    await new Promise((resolve) => junk.on('connect', resolve));
    await new Promise((resolve) => junk.write(Buffer.alloc(4096, 0xa5), resolve));
    junk.destroy();
    // A source that stalls after 100 packets; the exporter is then aborted mid-call.
    let stalled: () => void = () => {};
    async function* stalling() {
      for (let i = 0; i < 100; i++) yield { timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1000n, caplen: 4, len: 4, data: Buffer.alloc(4, i) };
      await new Promise<void>((resolve) => (stalled = resolve));
    }
    const seen = (async () => {
      for await (const stream of collector.streams()) return stream;
      return null;
    })();
    const sender = streamPackets(`127.0.0.1:${collector.port}`, stalling(), { segmentPackets: 1000 });
    const stream = (await seen)!;
    const got: number[] = [];
    const reading = (async () => {
      for await (const p of stream) if (got.push(p.data[0]) === 100) sender.abort();
    })().catch((e) => e);
    expect(await reading).toMatchObject({ code: 'ECONNRESET' });
    await expect(sender.done).rejects.toMatchObject({ name: 'AbortError' });
    stalled();
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // The collector still serves.
    async function* three() {
      for (let i = 0; i < 3; i++) yield { timestamp: 1_700_000_000_000_000_000n, caplen: 1, len: 1, data: Buffer.from([i]) };
    }
    const after = streamPackets(`127.0.0.1:${collector.port}`, three());
    const next = (async () => {
      for await (const s of collector.streams()) return collect(s);
      return [];
    })();
    expect((await after.done).sent).toBe(3);
    expect((await next).map((p) => p.data[0])).toEqual([0, 1, 2]);
    await collector.close();
    expect(messages.join('\n')).toMatch(/broke off/);
  });
});

describe('a collector that dies mid-stream', () => {
  test('is reconnected to once restarted; every packet is acknowledged or counted as dropped, none otherwise lost', async () => {
    const total = 30000;
    const packets = syntheticPackets(total);
    const trace = path.join(dir, 'outage.pcap');
    fs.writeFileSync(trace, pcapBytes(packets, { nano: true }));
    const port = await freePort();
    const ids = path.join(dir, 'ids.txt');
    // The collector records each stream's packet numbers before it acknowledges the stream.
    const collectorCode = `
      const fs = require('node:fs');
      (async () => {
        const collector = await wirecap.createCollector({ host: '127.0.0.1', port: ${port}, log: () => {} });
        console.log('listening');
        for await (const stream of collector.streams()) {
          const got = [];
          try {
            for await (const p of stream) got.push(p.data.readUInt32BE(42));
            fs.appendFileSync(${JSON.stringify(ids)}, got.join('\\n') + '\\n');
            console.log('segment');
          } catch {}
        }
      })();`;
    const start = (): { child: ChildProcess; ready: Promise<void>; segments: () => number } => {
      let segments = 0;
      const child = spawn(process.execPath, ['-e', `const wirecap = require(${JSON.stringify(ROOT)});\n${collectorCode}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const ready = new Promise<void>((resolve) =>
        child.stdout!.on('data', (d) => {
          const text = String(d);
          segments += text.split('segment').length - 1;
          if (text.includes('listening')) resolve();
        }),
      );
      return { child, ready, segments: () => segments };
    };
    const first = start();
    await first.ready;
    const stream = streamPackets(`127.0.0.1:${port}`, openOffline(trace), { segmentPackets: 500, bufferPackets: 2000 });
    let second: ReturnType<typeof start> | null = null;
    try {
      await waitFor(() => first.segments() >= 3, 20000, 'three acknowledged segments');
      first.child.kill('SIGKILL');
      await sleep(500);
      second = start();
      await second.ready;
      const result = await stream.done;
      const received = new Set(fs.readFileSync(ids, 'utf8').trim().split('\n').map(Number));
      expect(result.reconnects).toBeGreaterThan(0);
      expect(result.sent + result.dropped).toBe(total);
      expect(received.size).toBe(total - result.dropped);
      expect(result.dropped).toBeGreaterThan(0);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  });
});

describe('CLI', () => {
  test('wirecap collect -w and wirecap stream FILE --to carry a trace into a file', async () => {
    const port = await freePort();
    const packets = syntheticPackets(400);
    const trace = path.join(dir, 'cli-in.pcap');
    fs.writeFileSync(trace, pcapBytes(packets));
    const out = path.join(dir, 'cli-out.pcap');
    const cli = path.join(ROOT, 'dist', 'cli', 'main.js');
    const collector = spawn(process.execPath, [cli, 'collect', '--port', String(port), '--host', '127.0.0.1', '-w', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let collected = '';
    collector.stdout!.on('data', (d) => (collected += d));
    await new Promise<void>((resolve) => collector.stderr!.on('data', (d) => String(d).includes('collecting') && resolve()));
    const sent = execFileSync(process.execPath, [cli, 'stream', trace, '--to', `127.0.0.1:${port}`], { encoding: 'utf8', timeout: 30000 });
    expect(sent).toMatch(/^400 packets sent to 127\.0\.0\.1:\d+, 0 dropped, 0 reconnects/m);
    collector.kill('SIGINT');
    await new Promise((resolve) => collector.on('close', resolve));
    expect(collected).toMatch(/400 packets in 1 streams/);
    expect(filePackets(out).map((p) => p.hex)).toEqual(packets.map((p) => p.data.toString('hex')));
  });
});
