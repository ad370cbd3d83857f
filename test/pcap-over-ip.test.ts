// pcap-over-IP both ways: wirecap serves a live capture to several TCP
// clients (bash's /dev/tcp and tcpdump reading what it saves, and
// openPcapStream), a client that never reads loses packets without
// holding the capture up, and wirecap reads a pcap stream someone else sends.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openLive, openPcapStream, servePcap } from '../lib';
import { describeLive } from './helpers/live';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { freePort } from './helpers/nats';
import { receivedFrom } from './helpers/sockets';
import { markedPayloads, ROOT, sendUdp, sleep, udpSink, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-poip-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeLive('servePcap', () => {
  test('two clients at once (bash /dev/tcp saved and read by tcpdump, and openPcapStream) each get every packet of the capture', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp port ${sink.port}`, timeoutMs: 10 });
    const server = await servePcap(cap);
    const saved = path.join(dir, 'client.pcap');
    const bash = spawn('bash', ['-c', `exec cat < /dev/tcp/127.0.0.1/${server.port} > ${saved}`]);
    const bashDone = new Promise((resolve) => bash.on('close', resolve));
    const stream = await openPcapStream(`tcp://127.0.0.1:${server.port}`);
    expect(stream).toMatchObject({ linktype: 1, precision: cap.precision });
    await waitFor(() => server.stats().clients === 2, 10000, 'two clients');
    const payloads = markedPayloads('poip', 40);
    await sendUdp(sink.port, payloads);
    const got: string[] = [];
    for await (const p of stream) {
      got.push(p.data.subarray(42).toString());
      if (got.length === payloads.length) break;
    }
    cap.close();
    const stats = await server.done;
    await bashDone;
    sink.close();
    expect(got).toEqual(payloads.map(String));
    const dumped = spawnSync('tcpdump', ['-n', '-r', saved], { encoding: 'utf8' });
    expect(dumped.status).toBe(0);
    expect(dumped.stdout.trim().split('\n')).toHaveLength(payloads.length);
    expect(referenceRead(saved).packets.map((p) => Buffer.from(p.hex, 'hex').subarray(42).toString())).toEqual(payloads.map(String));
    expect(stats).toMatchObject({ connections: 2, sent: 2 * payloads.length, dropped: 0 });
  }, 30000);

  test("a client that never reads loses what does not fit in its clientBytes, counted; the other client and the capture lose nothing", async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp port ${sink.port}`, timeoutMs: 10, bufferSize: 32 << 20 });
    const server = await servePcap(cap, { clientBytes: 65536 });
    const slow = net.connect(server.port, '127.0.0.1');
    slow.pause(); // reads nothing: the kernel's buffers fill, then its socket's queue
    const stream = await openPcapStream(`tcp://127.0.0.1:${server.port}`);
    await waitFor(() => server.stats().clients === 2, 10000, 'two clients');
    const slowPort = slow.localPort;
    const total = 8000;
    const payload = Buffer.alloc(1400, 0x61);
    let got = 0;
    let clients: ReturnType<typeof server.clients> = [];
    let captured: ReturnType<typeof cap.stats> | null = null;
    const reading = (async () => {
      for await (const p of stream) {
        expect(p.caplen).toBe(1400 + 42);
        if (++got === total) break;
      }
    })();
    try {
      // 11 MiB in all, in steps the reading client keeps up with: more than the kernel holds for the one that does not read.
      for (let sent = 0; sent < total; sent += 40) {
        await sendUdp(sink.port, Array(40).fill(payload));
        await waitFor(() => got >= sent + 40, 10000, `the reading client to get ${sent + 40} packets`);
      }
      await reading;
      clients = server.clients();
      captured = cap.stats();
    } finally {
      cap.close();
      slow.destroy();
      stream.close();
      sink.close();
    }
    const slowOne = clients.find((c) => c.peer.endsWith(`:${slowPort}`))!;
    process.stdout.write(`the client that never read: ${slowOne.sent} packets queued to it, ${slowOne.dropped} dropped\n`);
    expect(slowOne.dropped).toBeGreaterThan(0);
    expect(slowOne.sent + slowOne.dropped).toBe(total);
    expect(captured).toMatchObject({ consumerDropped: 0, dropped: 0 });
    const stats = await server.done;
    expect(stats.dropped).toBe(slowOne.dropped);
    expect(stats.sent).toBe(total + slowOne.sent);
  }, 30000);
});

describeLive('wirecap serve', () => {
  test('wirecap serve lo --listen, read by wirecap read tcp:// -c 3; Ctrl-C prints what it sent to how many clients', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const serve = spawn(process.execPath, [CLI, 'serve', 'lo', 'udp', 'port', String(sink.port), '--listen', `127.0.0.1:${port}`]);
    let served = '';
    let err = '';
    serve.stdout.on('data', (d) => (served += d));
    serve.stderr.on('data', (d) => (err += d));
    const serveDone = new Promise((resolve) => serve.on('close', resolve));
    try {
      await waitFor(() => err.includes('serving pcap-over-IP'), 10000, 'the server');
      const read = spawn(process.execPath, [CLI, 'read', `tcp://127.0.0.1:${port}`, '-c', '3']);
      let lines = '';
      read.stdout.on('data', (d) => (lines += d));
      const readDone = new Promise((resolve) => read.on('close', resolve));
      // The server writes the pcap header as it takes a client on: from then on the client gets what is captured.
      await waitFor(() => receivedFrom(port) >= 24, 15000, 'the server to take the reader on');
      await sendUdp(sink.port, markedPayloads('served', 3));
      await readDone;
      expect(lines.trim().split('\n')).toHaveLength(3);
      expect(lines).toMatch(new RegExp(`127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${sink.port}: UDP`));
    } finally {
      serve.kill('SIGINT');
      await serveDone;
      sink.close();
    }
    expect(served).toBe('3 packets sent to 1 client(s), 0 dropped for slow clients\n');
  }, 30000);
});

describeLive('wirecap dump --serve', () => {
  test('dump -w FILE -c 5 --serve: a pcap-over-IP client gets the packets of the file first (then what the capture took until it closed)', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const file = path.join(dir, 'served-dump.pcap');
    const dump = spawn(process.execPath, [CLI, 'dump', 'lo', 'udp', 'port', String(sink.port), '-w', file, '-c', '5', '--serve', `127.0.0.1:${port}`]);
    let err = '';
    let out = '';
    dump.stderr.on('data', (d) => (err += d));
    dump.stdout.on('data', (d) => (out += d));
    const dumpDone = new Promise((resolve) => dump.on('close', resolve));
    try {
      await waitFor(() => err.includes('serving pcap-over-IP'), 10000, 'the server');
      const stream = await openPcapStream(`tcp://127.0.0.1:${port}`);
      const got: string[] = [];
      const reading = (async () => {
        for await (const p of stream) got.push(`${p.timestamp / 1000n} ${p.data.toString('hex')}`);
      })();
      for (let i = 0; i < 200 && dump.exitCode === null; i++) await sendUdp(sink.port, [Buffer.from(`d${i}`)], 20);
      await dumpDone;
      await reading;
      expect(out).toMatch(/^5 packets, \d+ bytes in 1 file\(s\)/);
      expect(got.slice(0, 5)).toEqual(referenceRead(file).packets.map((p) => `${p.timestamp / 1000n} ${p.hex}`));
    } finally {
      dump.kill('SIGKILL');
      sink.close();
    }
  }, 30000);
});

describe('reading pcap-over-IP', () => {
  /** A sender that is not wirecap: a plain TCP server writing a file's bytes in small pieces. */
  async function sender(bytes: Buffer): Promise<{ port: number; close(): void }> {
    const server = net.createServer((socket) => {
      void (async () => {
        for (let at = 0; at < bytes.length; at += 1000) {
          socket.write(bytes.subarray(at, at + 1000));
          await sleep(0);
        }
        socket.end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
  }

  test('wirecap read tcp://host:port [filter] prints what wirecap read FILE prints', async () => {
    const file = path.join(dir, 'sent.pcap');
    fs.writeFileSync(file, pcapBytes(syntheticPackets(200), { nano: true }));
    const s = await sender(fs.readFileSync(file));
    try {
      const run = (target: string): Promise<string> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [CLI, 'read', target, 'len > 500', '--json']);
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('close', () => resolve(out));
        });
      const fromTcp = await run(`tcp://127.0.0.1:${s.port}`);
      const fromFile = await run(file);
      expect(fromTcp.trim().split('\n').length).toBeGreaterThan(50);
      expect(fromTcp).toBe(fromFile);
    } finally {
      s.close();
    }
  });

  test('a record over 262144 bytes is EBADFORMAT, a stream cut inside a record ETRUNCATED, pcapng EBADFORMAT, nobody listening ECONNREFUSED', async () => {
    const good = pcapBytes(syntheticPackets(3));
    const huge = Buffer.from(good);
    huge.writeUInt32LE(300000, 24 + 8);
    const cases: [Buffer, string][] = [
      [huge, 'EBADFORMAT'],
      [good.subarray(0, good.length - 5), 'ETRUNCATED'],
    ];
    for (const [bytes, code] of cases) {
      const s = await sender(bytes);
      try {
        const stream = await openPcapStream(`127.0.0.1:${s.port}`);
        await expect((async () => { for await (const p of stream) void p; })()).rejects.toMatchObject({ code });
      } finally {
        s.close();
      }
    }
    const ng = await sender(Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'));
    await expect(openPcapStream(`tcp://127.0.0.1:${ng.port}`)).rejects.toMatchObject({ code: 'EBADFORMAT' });
    ng.close();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(openPcapStream(`tcp://127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(openPcapStream('udp://x:1')).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
