// Packets into NATS JetStream and out again, on one real nats-server on
// 127.0.0.1: publishPackets(), consumePackets(), collectPackets(), and the
// bad inputs each must answer with a typed error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, credsAuthenticator, headers } from 'nats';
import { collectPackets, consumePackets, createWriter, openLive, openOffline, Packet, publishPackets, WirecapError } from '../lib';
import { operator } from './helpers/jwt';
import { describeLive } from './helpers/live';
import { createStream, freePort, NatsCluster, startNats } from './helpers/nats';
import { capinfos } from './helpers/tools';
import { pcapBytes, pcapngBytes, referenceRead, ReferencePacket, syntheticPackets } from './helpers/trace';
import { markedPayloads, ROOT, sendUdp, udpSink, waitFor } from './helpers/traffic';

let dir: string;
let nats: NatsCluster;
let trace: string;
let source: ReferencePacket[];
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-nats-single-'));
  nats = await startNats(1);
  trace = path.join(dir, 'trace.pcap');
  fs.writeFileSync(trace, pcapBytes(syntheticPackets(5000), { nano: true }));
  source = referenceRead(trace).packets;
});
afterAll(async () => {
  await nats.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const key = (p: { timestamp: bigint; caplen: number; len: number; hex: string }): string => `${p.timestamp} ${p.caplen} ${p.len} ${p.hex}`;

/** libpcap's reading of files, one after the other. */
function readFiles(files: string[]): ReferencePacket[] {
  return files.flatMap((f) => referenceRead(f).packets);
}

describe('one node', () => {
  test('a file published in batches is read back by consumePackets exactly as libpcap reads the source', async () => {
    await createStream(nats.urls, 'ONE', ['one.>']);
    const pub = publishPackets(openOffline(trace), { servers: nats.urls, subject: 'one.a', sensor: 'a', batchPackets: 300 });
    const stats = await pub.done;
    expect(stats).toMatchObject({ sent: 5000, dropped: 0, messages: Math.ceil(5000 / 300) });

    const consumer = consumePackets({ servers: nats.urls, stream: 'ONE', durable: 'reader' });
    const got: string[] = [];
    for await (const p of consumer) {
      expect(p.sensor).toBe('a');
      got.push(key({ ...p, hex: p.data.toString('hex') }));
      if (got.length === 5000) break;
    }
    await consumer.close();
    expect(got).toEqual(source.map(key));
  });

  test("files of either precision and byte order, filtered, with records cut to the snaplen, and a plain iterable: every message's records are what libpcap reads, in the precision asked", async () => {
    // 3000 packets of ~740 bytes span several of the reader's 1 MiB batches, so messages straddle them.
    const packets = syntheticPackets(3000).map((p, i) => (i % 37 === 5 ? { ...p, data: Buffer.alloc(300, i & 0xff), len: 300 } : p));
    const micro = path.join(dir, 'micro.pcap');
    const nano = path.join(dir, 'nano.pcap');
    const big = path.join(dir, 'big-endian.pcap');
    fs.writeFileSync(micro, pcapBytes(packets, { snaplen: 200 }));
    fs.writeFileSync(nano, pcapBytes(packets, { nano: true, snaplen: 200 }));
    fs.writeFileSync(big, pcapBytes(packets, { bigEndian: true, snaplen: 200 }));
    const toMicro = (p: ReferencePacket): ReferencePacket => ({ ...p, timestamp: p.timestamp - (p.timestamp % 1000n) });
    const filtered = openOffline(nano, { filter: 'len > 700' });
    async function* iterable(): AsyncGenerator<Packet> {
      for (const p of packets) yield { timestamp: p.timestamp, data: p.data, caplen: p.data.length, len: p.len ?? p.data.length };
    }
    const cases = [
      { name: 'micro', source: openOffline(micro), precision: 'nano', expected: referenceRead(micro).packets },
      { name: 'micro-as-micro', source: openOffline(micro, { precision: 'micro' }), precision: 'micro', expected: referenceRead(micro).packets },
      { name: 'nano-as-micro', source: openOffline(nano, { precision: 'micro' }), precision: 'micro', expected: referenceRead(nano).packets.map(toMicro) },
      { name: 'big-endian', source: openOffline(big), precision: 'nano', expected: referenceRead(big).packets },
      { name: 'filtered', source: filtered, precision: 'nano', expected: referenceRead(nano).packets.filter((p) => p.len > 700) },
      { name: 'iterable', source: iterable(), precision: 'nano', expected: packets.map((p) => ({ timestamp: p.timestamp, caplen: p.data.length, len: p.len!, linktype: 1, hex: p.data.toString('hex') })) },
    ];
    expect(cases[0].expected.some((p) => p.caplen === 200)).toBe(true); // libpcap cut the 300-byte records
    await createStream(nats.urls, 'KINDS', ['kinds.>']);
    for (const c of cases) {
      const stats = await publishPackets(c.source, { servers: nats.urls, subject: `kinds.${c.name}`, sensor: c.name, batchBytes: 50000 }).done;
      expect(stats.sent).toBe(c.expected.length);
      const consumer = consumePackets({ servers: nats.urls, stream: 'KINDS', durable: c.name, filterSubject: `kinds.${c.name}` });
      const got: string[] = [];
      for await (const b of consumer.batches()) {
        expect(b.precision).toBe(c.precision);
        got.push(...b.packets.map((p) => key({ ...p, hex: p.data.toString('hex') })));
        if (got.length >= c.expected.length) break;
      }
      await consumer.close();
      expect(got).toEqual(c.expected.map(key));
    }
  });

  test('the collector writes rotated files that tcpdump, capinfos and libpcap read, every packet once and in order, and acks them all', async () => {
    await createStream(nats.urls, 'ROT', ['rot.>']);
    await publishPackets(openOffline(trace), { servers: nats.urls, subject: 'rot.a', sensor: 'a', batchPackets: 200 }).done;
    const out = path.join(dir, 'rot', 'out.pcap');
    fs.mkdirSync(path.dirname(out));
    const collector = collectPackets({ servers: nats.urls, stream: 'ROT', durable: 'files', write: { path: out, rotate: { fileBytes: 1_000_000 } } });
    await waitFor(() => collector.stats().packets >= 5000, 20000, 'all packets written');
    collector.stop();
    const stats = await collector.done;
    expect(stats).toMatchObject({ packets: 5000, messages: 25, rejected: 0, duplicates: 0 });
    const files = fs.readdirSync(path.dirname(out)).filter((f) => f.endsWith('.pcap')).sort();
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) {
      expect(f).toMatch(/^out_\d{6}_\d{8}T\d{6}Z\.pcap$/);
      expect(fs.statSync(path.join(dir, 'rot', f)).size).toBeLessThanOrEqual(1_000_000);
    }
    const counts = files.map((f) => Number(capinfos(path.join(dir, 'rot', f))['Number of packets']));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(readFiles(files.map((f) => path.join(dir, 'rot', f))).map(key)).toEqual(source.map(key));
    const nc = await connect({ servers: nats.urls });
    const info = await (await nc.jetstreamManager()).consumers.info('ROT', 'files');
    await nc.close();
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });
});

describe('pieces the collector stands on', () => {
  test('a writer resumed at a record boundary cuts what followed and appends after it, with no second header', async () => {
    const file = path.join(dir, 'resume.pcap');
    const w = createWriter(file, { precision: 'nano' });
    const packets = syntheticPackets(9);
    let at = 0;
    packets.forEach((p, i) => {
      w.write(p);
      if (i === 5) {
        w.flush();
        at = fs.statSync(file).size; // flush() put the first six records in the file
      }
    });
    w.close();
    const again = createWriter(file, { precision: 'nano', resumeAt: at });
    again.write(packets[8]);
    again.close();
    const expected = [...packets.slice(0, 6), packets[8]].map((p) => ({ timestamp: p.timestamp, caplen: p.data.length, len: p.len!, hex: p.data.toString('hex') }));
    expect(referenceRead(file).packets.map(key)).toEqual(expected.map(key));
  });

  test('wirecap publish sends a file and prints what JetStream acknowledged', async () => {
    await createStream(nats.urls, 'CLI', ['cli.>']);
    const out = execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'publish', trace, 'ip', '--nats', nats.urls.join(','), '--subject', 'cli.a', '--sensor', 'cli', '--batch', '500'], { encoding: 'utf8' });
    expect(out).toMatch(/^5000 packets in \d+ messages to cli\.a, 0 dropped/);
  });
});

describe('many sensors, many collectors', () => {
  test('two sensors into one stream, two collectors on one durable: each writes a share, together every packet once, each sensor in order', async () => {
    await createStream(nats.urls, 'TWO', ['two.>']);
    const second = path.join(dir, 'second.pcap');
    fs.writeFileSync(second, pcapBytes(syntheticPackets(3000, 1_800_000_000_000_000_000n), { nano: true }));
    const where = new Map<string, string>();
    source.forEach((p, i) => where.set(key(p), `a ${i}`));
    referenceRead(second).packets.forEach((p, i) => where.set(key(p), `b ${i}`));
    const stats = await Promise.all([
      publishPackets(openOffline(trace), { servers: nats.urls, subject: 'two.a', sensor: 'a', batchPackets: 100 }).done,
      publishPackets(openOffline(second), { servers: nats.urls, subject: 'two.b', sensor: 'b', batchPackets: 100 }).done,
    ]);
    expect(stats.map((s) => s.sent)).toEqual([5000, 3000]);

    const outs = [path.join(dir, 'split-1.pcap'), path.join(dir, 'split-2.pcap')];
    // Small fetches, so that the two collectors take turns.
    const collectors = outs.map((out) => collectPackets({ servers: nats.urls, stream: 'TWO', durable: 'split', fetchMessages: 4, write: { path: out } }));
    await waitFor(() => collectors.reduce((n, c) => n + c.stats().packets, 0) >= 8000, 30000, 'all packets written');
    collectors.forEach((c) => c.stop());
    const done = await Promise.all(collectors.map((c) => c.done));
    expect(done.map((d) => d.packets).every((n) => n > 0)).toBe(true);
    expect(done[0].packets + done[1].packets).toBe(8000);

    const seen = new Set<string>();
    for (const out of outs) {
      const last = { a: -1, b: -1 };
      for (const p of referenceRead(out).packets) {
        const w = where.get(key(p));
        expect(w).toBeDefined();
        expect(seen.has(key(p))).toBe(false);
        seen.add(key(p));
        const [sensor, index] = w!.split(' ');
        expect(Number(index)).toBeGreaterThan(last[sensor as 'a' | 'b']);
        last[sensor as 'a' | 'b'] = Number(index);
      }
    }
    expect(seen.size).toBe(8000);
  });
});

describeLive('live capture', () => {
  test('a capture on lo published while it runs: sent + dropped is every packet the capture took', async () => {
    await createStream(nats.urls, 'LIVE', ['live.>']);
    const sink = await udpSink();
    // The filter keeps the publisher's own TCP traffic on lo out of the capture.
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const pub = publishPackets(cap, { servers: nats.urls, subject: 'live.lo', sensor: 'lo', lingerMs: 20 });
    await sendUdp(sink.port, markedPayloads('nats', 250));
    await waitFor(() => pub.stats().sent + cap.stats().consumerDropped >= 250, 10000, 'every packet published');
    cap.close();
    sink.close();
    const stats = await pub.done;
    expect(stats.sent + stats.dropped).toBe(cap.stats().captured);
    expect(stats.sent).toBeGreaterThan(0);
    const consumer = consumePackets({ servers: nats.urls, stream: 'LIVE', durable: 'live' });
    let n = 0;
    for await (const p of consumer) {
      expect(p.data.subarray(42).toString().startsWith('nats:')).toBe(true);
      if (++n === stats.sent) break;
    }
    await consumer.close();
  });
});

describeLive('abort', () => {
  test('abort() ends a publish whose live capture is quiet, with an AbortError, without waiting for a packet', async () => {
    await createStream(nats.urls, 'QUIET', ['quiet.>']);
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}` });
    const pub = publishPackets(cap, { servers: nats.urls, subject: 'quiet.lo' });
    await new Promise((r) => setTimeout(r, 300)); // connected, and waiting for the capture's first packet
    pub.abort();
    await expect(pub.done).rejects.toMatchObject({ name: 'AbortError' });
    expect(cap.closed).toBe(false);
    cap.close();
    sink.close();
  });
});

describe('bad input', () => {
  test('a token the server wants goes to the client; a wrong one is EACCES', async () => {
    const locked = await startNats(1, { config: ['authorization { token: "s3cret" }'] });
    try {
      await expect(publishPackets(openOffline(trace), { servers: locked.urls, subject: 'x', token: 'wrong', connectTimeoutMs: 2000 }).done).rejects.toMatchObject({ code: 'EACCES' });
      const good = publishPackets(openOffline(trace), { servers: locked.urls, subject: 'none', token: 's3cret' });
      await expect(good.done).rejects.toMatchObject({ code: 'ENOENT' }); // connected: the server answered that no stream takes the subject
    } finally {
      await locked.stop();
    }
  });

  test('a user and password the server wants go to the client; a wrong password is EACCES', async () => {
    const locked = await startNats(1, { config: ['authorization { user: "sensor", password: "pa55" }'] });
    try {
      await expect(publishPackets(openOffline(trace), { servers: locked.urls, subject: 'x', user: 'sensor', pass: 'wrong', connectTimeoutMs: 2000 }).done).rejects.toMatchObject({ code: 'EACCES' });
      const good = publishPackets(openOffline(trace), { servers: locked.urls, subject: 'none', user: 'sensor', pass: 'pa55' });
      await expect(good.done).rejects.toMatchObject({ code: 'ENOENT' }); // connected: the server answered that no stream takes the subject
    } finally {
      await locked.stop();
    }
  });

  test("a creds file goes to the client: a server in operator mode takes the account's user; another account's user, or none, is EACCES; a missing file is ENOENT", async () => {
    const op = operator();
    const locked = await startNats(1, { config: op.config });
    const good = path.join(dir, 'sensor.creds');
    const stranger = path.join(dir, 'stranger.creds');
    fs.writeFileSync(good, op.creds());
    fs.writeFileSync(stranger, op.creds({ untrusted: true }));
    try {
      const nc = await connect({ servers: locked.urls, authenticator: credsAuthenticator(fs.readFileSync(good)) });
      await (await nc.jetstreamManager()).streams.add({ name: 'CREDS', subjects: ['creds.>'] });
      await nc.close();
      const stats = await publishPackets(openOffline(trace), { servers: locked.urls, subject: 'creds.a', creds: good }).done;
      expect(stats.sent).toBe(5000);
      const consumer = consumePackets({ servers: locked.urls, stream: 'CREDS', durable: 'c', creds: good });
      let n = 0;
      for await (const _ of consumer) if (++n === 5000) break;
      await consumer.close();
      await expect(publishPackets(openOffline(trace), { servers: locked.urls, subject: 'creds.a', creds: stranger, connectTimeoutMs: 2000 }).done).rejects.toMatchObject({ code: 'EACCES' });
      await expect(publishPackets(openOffline(trace), { servers: locked.urls, subject: 'creds.a', connectTimeoutMs: 2000 }).done).rejects.toMatchObject({ code: 'EACCES' });
      const file = openOffline(trace);
      expect(() => publishPackets(file, { servers: locked.urls, subject: 'creds.a', creds: path.join(dir, 'none.creds') })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      file.close();
    } finally {
      await locked.stop();
    }
  });

  test("TLS: the server's certificate checked against the CA file given; without TLS no connection (ECONNREFUSED)", async () => {
    const key = path.join(dir, 'tls-key.pem');
    const cert = path.join(dir, 'tls-cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const secure = await startNats(1, { config: [`tls { cert_file: "${cert}", key_file: "${key}" }`] });
    try {
      const good = publishPackets(openOffline(trace), { servers: secure.urls, subject: 'none', tls: { ca: cert } });
      await expect(good.done).rejects.toMatchObject({ code: 'ENOENT' }); // connected over TLS: the server answered
      const plain = publishPackets(openOffline(trace), { servers: secure.urls, subject: 'none', connectTimeoutMs: 500 });
      await expect(plain.done).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await secure.stop();
    }
  });

  test('unreachable servers: ECONNREFUSED once connectTimeoutMs has passed', async () => {
    const port = await freePort();
    const started = Date.now();
    const pub = publishPackets(openOffline(trace), { servers: `nats://127.0.0.1:${port}`, subject: 'x', connectTimeoutMs: 1500 });
    await expect(pub.done).rejects.toMatchObject({ name: 'WirecapError', code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const consumer = consumePackets({ servers: `nats://127.0.0.1:${port}`, stream: 'S', durable: 'd', connectTimeoutMs: 500 });
    await expect(consumer.batches().next()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('a stream that does not exist: ENOENT for the consumer, and for a publisher whose subject no stream takes', async () => {
    const consumer = consumePackets({ servers: nats.urls, stream: 'NOPE', durable: 'd' });
    await expect(consumer.batches().next()).rejects.toMatchObject({ name: 'WirecapError', code: 'ENOENT' });
    const pub = publishPackets(openOffline(trace), { servers: nats.urls, subject: 'nobody.listens' });
    await expect(pub.done).rejects.toMatchObject({ name: 'WirecapError', code: 'ENOENT' });
  });

  test('a message of another format: EPROTO, and it is terminated, not delivered again', async () => {
    await createStream(nats.urls, 'MIX', ['mix.>']);
    const nc = await connect({ servers: nats.urls });
    const js = nc.jetstream();
    await js.publish('mix.a', Buffer.from('{"not":"packets"}'));
    const h = headers();
    h.set('Wirecap-Format', 'pcap-records/1');
    h.set('Wirecap-Precision', 'nano');
    h.set('Wirecap-Linktype', '1');
    h.set('Wirecap-Snaplen', '65535');
    h.set('Wirecap-Batch', '1');
    h.set('Wirecap-Packets', '1');
    await js.publish('mix.a', Buffer.alloc(10), { headers: h }); // a record header cut short
    await nc.close();
    await publishPackets(openOffline(trace), { servers: nats.urls, subject: 'mix.a', sensor: 'a' }).done;

    const consumer = consumePackets({ servers: nats.urls, stream: 'MIX', durable: 'm' });
    const errors: WirecapError[] = [];
    let packets = 0;
    while (packets < 5000) {
      try {
        for await (const b of consumer.batches()) {
          packets += b.packets.length;
          if (packets >= 5000) break;
        }
      } catch (error) {
        errors.push(error as WirecapError);
      }
    }
    await consumer.close();
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['WirecapError', 'EPROTO'],
      ['WirecapError', 'EPROTO'],
    ]);
    expect(errors[0].message).toMatch(/no Wirecap-Format header/);
    expect(errors[1].message).toMatch(/less than a record header/);

    // The collector terminates them too, and counts them.
    const log: string[] = [];
    const out = path.join(dir, 'mix.pcap');
    const collector = collectPackets({ servers: nats.urls, stream: 'MIX', durable: 'c', write: { path: out }, log: (m) => log.push(m) });
    await waitFor(() => collector.stats().packets >= 5000, 20000, 'all packets written');
    collector.stop();
    expect(await collector.done).toMatchObject({ packets: 5000, rejected: 2 });
    expect(log).toHaveLength(2);
    const nc2 = await connect({ servers: nats.urls });
    const jsm = await nc2.jetstreamManager();
    for (const durable of ['m', 'c']) {
      const info = await jsm.consumers.info('MIX', durable);
      expect(info.num_ack_pending + info.num_pending).toBe(0);
    }
    await nc2.close();
  });

  test("a packet over the server's max_payload: EMSGSIZE, after the packets before it were stored", async () => {
    const small = await startNats(1, { maxPayload: 4096 });
    try {
      await createStream(small.urls, 'SMALL', ['small.>']);
      const big = path.join(dir, 'big.pcap');
      const packets = syntheticPackets(10).map((p) => ({ ...p, data: Buffer.alloc(100, 1), len: 100 }));
      packets[6] = { ...packets[6], data: Buffer.alloc(5000, 2), len: 5000 };
      fs.writeFileSync(big, pcapBytes(packets));
      const pub = publishPackets(openOffline(big), { servers: small.urls, subject: 'small.a', batchPackets: 2 });
      await expect(pub.done).rejects.toMatchObject({ name: 'WirecapError', code: 'EMSGSIZE' });
      expect(pub.stats().sent).toBe(6);
    } finally {
      await small.stop();
    }
  });

  test('a packet dated before 1970 or after 2106 (a record holds u32 seconds): EINVAL, after the packets before it were stored', async () => {
    await createStream(nats.urls, 'UNDATED', ['undated.>']);
    const data = Buffer.alloc(60, 3);
    for (const timestamp of [-1n, 2n ** 32n * 1_000_000_000n]) {
      async function* source(): AsyncGenerator<Packet> {
        for (let i = 0; i < 3; i++) yield { timestamp: 1_700_000_000_000_000_000n + BigInt(i), caplen: 60, len: 60, data };
        yield { timestamp, caplen: 60, len: 60, data };
      }
      const pub = publishPackets(source(), { servers: nats.urls, subject: 'undated.a', batchPackets: 1 });
      await expect(pub.done).rejects.toMatchObject({ name: 'WirecapError', code: 'EINVAL', message: expect.stringMatching(/u32/) });
      expect(pub.stats().sent).toBe(3);
    }
    // A file's packets take the batch path: a pcapng one dated after 2106 there (µs ticks: year 2200).
    const late = path.join(dir, 'late.pcapng');
    const epb = (ticks: bigint) => ({ type: 'epb' as const, iface: 0, ticks, data });
    fs.writeFileSync(late, pcapngBytes([{ blocks: [{ type: 'idb', iface: {} }, epb(1_700_000_000_000_000n), epb(1_700_000_000_000_001n), epb(1_700_000_000_000_002n), epb(7_258_118_400_000_000n)] }]));
    const pub = publishPackets(openOffline(late), { servers: nats.urls, subject: 'undated.b', batchPackets: 1 });
    await expect(pub.done).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/u32/) });
    expect(pub.stats().sent).toBe(3);
  });
});
