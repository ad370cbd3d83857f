// The sessions layer against tshark 4.0, field by field: HTTP/1.x, TLS and
// QUIC Initial traffic from real clients and servers on lo (Node's http and
// https, curl, openssl s_client, a ClientHello cut on purpose across records
// and segments, QUIC Initials sealed around a real ClientHello), and the
// JA3 of FoxIO's sample captures (Chrome's GREASE included).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { liveDump, openOffline, sessions, sealInitial, cryptoFrame } from '../lib';
import type { HandshakeRecord, HttpTransaction, SessionRecord } from '../lib';
import { describeLive } from './helpers/live';
import { tsharkFields } from './helpers/tools';
import { sleep } from './helpers/traffic';

// tshark runs several times per test: generous timeouts for a loaded machine (about 10 s in all on a quiet one).
jest.setTimeout(120000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-sessions-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function recordsOf(file: string): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  for await (const r of sessions(openOffline(file))) out.push(r);
  return out;
}

/** tshark rows, with several values of one field in one frame (pipelined requests) split out. */
function rows(file: string, fields: string[], filter: string, decodeAs: string[]): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-n', ...decodeAs.flatMap((d) => ['-d', d]), '-Y', filter, '-T', 'fields', '-E', 'aggregator=|', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const result: string[][] = [];
  for (const line of out.split('\n').filter((l) => l.length > 0)) {
    const cols = line.split('\t').map((c) => c.split('|'));
    const n = Math.max(...cols.slice(1).map((c) => c.length));
    for (let i = 0; i < n; i++) result.push(cols.map((c, k) => (k === 0 ? c[0] : c[i] ?? '')));
  }
  return result;
}

const sorted = (lines: string[]): string[] => [...lines].sort();
const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;
const run = (cmd: string, args: string[]): Promise<void> => new Promise((resolve) => execFile(cmd, args, { timeout: 10000 }, () => resolve()));

/** The ClientHello handshake message a real client (node's tls) sends with these options. */
async function realClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
          socket.destroy();
          server.close();
          resolve(got.subarray(5, 5 + got.readUInt16BE(3)));
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, rejectUnauthorized: false, ...options });
      client.on('error', () => undefined);
      setTimeout(() => reject(new Error('no ClientHello')), 5000).unref();
    });
  });
}

const listen = (server: net.Server): Promise<number> => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));

/** Writes `parts` on one connection as separate segments, returns what came back within `ms`. */
async function rawExchange(port: number, parts: Buffer[], ms = 300): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const got: Buffer[] = [];
  socket.on('data', (d) => got.push(d));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const p of parts) {
    socket.write(p);
    await sleep(15);
  }
  await sleep(ms);
  socket.end();
  await sleep(20);
  socket.destroy();
  return Buffer.concat(got);
}

describeLive('sessions against tshark, on traffic from real clients on lo', () => {
  let file: string;
  let captured: SessionRecord[];
  const ports = { http: 0, https: 0, quic: 0 };

  beforeAll(async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=wirecap.test'], { stdio: 'ignore' });
    const plain = http.createServer((req, res) => {
      let body = 0;
      req.on('data', (d: Buffer) => (body += d.length));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('first piece,');
          res.end('second piece');
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else if (req.url === '/post') {
          res.setHeader('Content-Length', String(String(body).length));
          res.end(String(body));
        } else {
          res.setHeader('Content-Length', '5');
          res.end('hello');
        }
      });
    });
    const secure = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), ALPNProtocols: ['http/1.1'] }, (_req, res) => res.end('ok'));
    const udp = dgram.createSocket('udp4');
    ports.http = await listen(plain);
    ports.https = await listen(secure);
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    ports.quic = udp.address().port;
    const quicHellos = [await realClientHello({ servername: 'quic-one.test', ALPNProtocols: ['h3'], minVersion: 'TLSv1.3' }), await realClientHello({ servername: 'quic-two.test', ALPNProtocols: ['h3', 'h3-29'] })];
    const splitHello = await realClientHello({ servername: 'split.test', ALPNProtocols: ['http/1.1'], maxVersion: 'TLSv1.2' });

    file = path.join(dir, 'sessions.pcap');
    const dump = liveDump('lo', file, { filter: `tcp port ${ports.http} or tcp port ${ports.https} or udp port ${ports.quic}`, timeoutMs: 10 });
    await sleep(200);
    const base = `http://127.0.0.1:${ports.http}`;
    // Node's http client, keep-alive: four requests on one connection.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (const [method, url, body] of [['GET', '/small', ''], ['POST', '/post', 'x'.repeat(3000)], ['HEAD', '/small', ''], ['GET', '/chunked', '']]) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(`${base}${url}`, { method, agent, headers: { Host: 'node.test' } }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end(body);
      });
    }
    agent.destroy();
    // Pipelined requests in one write; a request cut into three segments; HTTP/1.0 (the body runs until close).
    await rawExchange(ports.http, [Buffer.from('GET /small HTTP/1.1\r\nHost: pipe.test\r\n\r\nGET /chunked HTTP/1.1\r\nHost: pipe.test\r\n\r\nGET /empty HTTP/1.1\r\nHost: pipe.test\r\n\r\n')]);
    await rawExchange(ports.http, [Buffer.from('POST /post HT'), Buffer.from('TP/1.1\r\nHost: split.test\r\nContent-Le'), Buffer.from('ngth: 4\r\n\r\nabcd')]);
    await rawExchange(ports.http, [Buffer.from('GET /chunked HTTP/1.0\r\n\r\n')]);
    await run('curl', ['-s', '-o', '/dev/null', '-H', 'Host: curl.test', `${base}/small`]);
    await run('curl', ['-s', '-o', '/dev/null', '-d', 'a=1&b=2', `${base}/post`]);
    // TLS: node's https, a TLS 1.2 client offering h2, curl, openssl s_client, and a ClientHello split across records and segments.
    await new Promise<void>((resolve) => https.get({ host: '127.0.0.1', port: ports.https, servername: 'node.test', rejectUnauthorized: false, agent: false }, (res) => res.resume().on('end', resolve)).on('error', () => resolve()));
    await new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: ports.https, servername: 'alpn.test', ALPNProtocols: ['h2', 'http/1.1'], maxVersion: 'TLSv1.2', rejectUnauthorized: false }, () => s.end());
      s.on('close', () => resolve()).on('error', () => resolve());
    });
    await run('curl', ['-s', '-k', '-o', '/dev/null', '--resolve', `curl.test:${ports.https}:127.0.0.1`, `https://curl.test:${ports.https}/`]);
    await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${ports.https} -servername openssl.test -alpn http/1.1 </dev/null >/dev/null 2>&1`]);
    const records: Buffer[] = [];
    for (let at = 0; at < splitHello.length; at += 60) {
      const piece = splitHello.subarray(at, at + 60);
      records.push(Buffer.from([22, 3, 1, piece.length >> 8, piece.length & 0xff]), piece);
    }
    const wire = Buffer.concat(records);
    await rawExchange(ports.https, [wire.subarray(0, 3), wire.subarray(3, 100), wire.subarray(100, 171), wire.subarray(171)]);
    // QUIC: each real ClientHello in two CRYPTO frames, in two Initial packets (the second part first); both
    // connections from the same UDP socket, so one flow holds two QUIC connections.
    for (const hello of quicHellos) {
      const dcid = randomBytes(8);
      const cut = 150;
      const seal = (pn: number, frames: Buffer) => sealInitial({ keyDcid: dcid, dcid, scid: randomBytes(4), side: 'client', pn, frames, minSize: 1200 });
      for (const packet of [seal(0, cryptoFrame(cut, hello.subarray(cut))), seal(1, cryptoFrame(0, hello.subarray(0, cut)))]) {
        await new Promise<void>((resolve) => udp.send(packet, ports.quic, '127.0.0.1', () => resolve()));
      }
    }
    await sleep(300);
    await dump.stop();
    plain.close();
    secure.close();
    udp.close();
    captured = await recordsOf(file);
  }, 120000);

  test('HTTP: method, URI, host, status and Content-Length of every request and response, as tshark reads them', async () => {
    const txs = captured.filter((r): r is HttpTransaction => r.kind === 'http');
    const decode = [`tcp.port==${ports.http},http`];
    const theirRequests = rows(file, ['tcp.srcport', 'http.request.method', 'http.request.uri', 'http.host'], 'http.request', decode).map((r) => r.join(' '));
    const theirResponses = rows(file, ['tcp.dstport', 'http.response.code', 'http.content_length'], 'http.response', decode).map((r) => r.join(' '));
    const ours = txs.filter((t) => t.request !== null).map((t) => `${t.flow.key.srcPort} ${t.request!.method} ${t.request!.uri} ${t.request!.host ?? ''}`);
    const ourResponses = txs.filter((t) => t.response !== null).map((t) => `${t.flow.key.srcPort} ${t.response!.status} ${t.response!.contentLength ?? ''}`);
    expect(theirRequests).toHaveLength(11);
    expect(sorted(ours)).toEqual(sorted(theirRequests));
    expect(sorted(ourResponses)).toEqual(sorted(theirResponses));
    expect(txs.every((t) => t.flags.length === 0 && t.request !== null && t.response !== null)).toBe(true);
    // Bodies: chunked, by length and until close, each with its length.
    expect(new Set(txs.map((t) => `${t.response!.bodyMode}:${t.response!.bodyLength}`))).toEqual(new Set(['length:5', 'length:4', 'length:1', 'none:0', 'chunked:24', 'close:24']));
    expect(txs.filter((t) => t.request!.method === 'POST').map((t) => `${t.request!.bodyMode}:${t.request!.bodyLength}`).sort()).toEqual(['length:3000', 'length:4', 'length:7']);
    console.log(`HTTP compared with tshark: ${ours.length} requests (method, uri, host), ${ourResponses.length} responses (code, content_length), 0 mismatches`);
  });

  test('TLS: SNI, ALPN, cipher suites, JA3 and JA3 full of every ClientHello, and the chosen suite, as tshark reads them', async () => {
    const hs = captured.filter((r): r is HandshakeRecord => r.kind === 'tls');
    const decode = [`tcp.port==${ports.https},tls`];
    const theirServers = rows(file, ['tcp.dstport', 'tls.handshake.ciphersuite'], 'tls.handshake.type==2', decode).map((r) => r.join(' '));
    // One ClientHello per frame here: its lists stay whole (comma-joined, as JA3 and wirecap join them).
    const theirClients = execFileSync('tshark', ['-r', file, '-n', '-d', decode[0], '-Y', 'tcp && tls.handshake.type==1', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tls.handshake.extensions_server_name', '-e', 'tls.handshake.extensions_alpn_str', '-e', 'tls.handshake.ciphersuite', '-e', 'tls.handshake.ja3', '-e', 'tls.handshake.ja3_full'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((l) => l.length > 0);
    const ours = hs.map((r) => [r.flow.key.srcPort, r.sni ?? '', r.alpn.join(','), r.client!.cipherSuites.map(hex4).join(','), r.ja3, r.ja3Full].join('\t'));
    expect(sorted(ours)).toEqual(sorted(theirClients));
    expect(sorted(hs.filter((r) => r.server !== null).map((r) => `${r.flow.key.srcPort} ${hex4(r.server!.cipherSuite)}`))).toEqual(sorted(theirServers));
    expect(hs.map((r) => r.sni).sort()).toEqual(['alpn.test', 'curl.test', 'node.test', 'openssl.test', 'split.test']);
    expect(hs.every((r) => r.flags.length === 0 && r.server !== null && r.ja4 !== null && r.ja4s !== null)).toBe(true);
    console.log(`TLS compared with tshark: ${ours.length} ClientHellos (server_name, alpn_str, ciphersuite, ja3, ja3_full), ${theirServers.length} ServerHellos (ciphersuite), 0 mismatches`);
  });

  test('QUIC: the SNI of each ClientHello spread over two Initial packets, as tshark decrypts them', async () => {
    const quic = captured.filter((r): r is HandshakeRecord => r.kind === 'quic');
    const theirs = tsharkFields(file, ['udp.srcport', 'tls.handshake.extensions_server_name', 'tls.handshake.ja3'], 'quic && tls.handshake.type==1').map((r) => r.join(' '));
    expect(theirs).toHaveLength(2);
    expect(sorted(quic.map((r) => `${r.flow.key.srcPort} ${r.sni} ${r.ja3}`))).toEqual(sorted(theirs));
    expect(quic.every((r) => r.ja4!.startsWith('q13d') && r.flags.length === 0)).toBe(true);
    console.log(`QUIC compared with tshark: ${quic.length} ClientHellos (server_name, ja3), 0 mismatches`);
  });
});

test("JA3 and JA3 full of every ClientHello in FoxIO's sample captures (GREASE-laden browsers, QUIC) equal tshark's", async () => {
  const fixtures = path.join(__dirname, 'fixtures', 'ja4');
  let compared = 0;
  for (const name of fs.readdirSync(fixtures).filter((f) => /\.pcap(ng)?$/.test(f))) {
    const f = path.join(fixtures, name);
    const ours = (await recordsOf(f)).filter((r): r is HandshakeRecord => (r.kind === 'tls' || r.kind === 'quic') && r.client !== null);
    // A client answered by a HelloRetryRequest sends a second ClientHello: JA3 (and wirecap) take the first of each connection.
    const first = new Map<string, string>();
    for (const [v4, v6, tp, up, ja3, full] of tsharkFields(f, ['ip.src', 'ipv6.src', 'tcp.srcport', 'udp.srcport', 'tls.handshake.ja3', 'tls.handshake.ja3_full'], 'tls.handshake.type==1')) {
      const key = `${v4 || v6} ${tp || up}`;
      if (!first.has(key)) first.set(key, `${key} ${ja3} ${full}`);
    }
    expect(sorted(ours.map((r) => `${r.flow.key.src} ${r.flow.key.srcPort} ${r.ja3} ${r.ja3Full}`))).toEqual(sorted([...first.values()]));
    compared += ours.length;
  }
  expect(compared).toBeGreaterThanOrEqual(90);
  console.log(`JA3 compared with tshark on FoxIO's captures: ${compared} ClientHellos, 0 mismatches`);
});

test("a generated trace (bench/make-sessions-trace.js, 60 connections): every HTTP and TLS field equals tshark's", async () => {
  const file = path.join(dir, 'generated.pcap');
  execFileSync(process.execPath, [path.join(__dirname, '..', 'bench', 'make-sessions-trace.js'), file, '60'], { stdio: 'ignore' });
  const records = await recordsOf(file);
  const txs = records.filter((r): r is HttpTransaction => r.kind === 'http');
  const hs = records.filter((r): r is HandshakeRecord => r.kind === 'tls');
  const decode = ['tcp.port==80,http', 'tcp.port==443,tls'];
  const theirRequests = rows(file, ['tcp.srcport', 'http.request.method', 'http.request.uri', 'http.host'], 'http.request', decode).map((r) => r.join(' '));
  const theirResponses = rows(file, ['tcp.dstport', 'http.response.code', 'http.content_length'], 'http.response', decode).map((r) => r.join(' '));
  // The generator puts HTTP and TLS on ports 80 and 443 alike, and wirecap finds each by its bytes: tshark is told both ports are TLS for the hellos.
  const theirHellos = rows(file, ['tcp.srcport', 'tls.handshake.extensions_server_name', 'tls.handshake.ja3'], 'tls.handshake.type==1', ['tcp.port==80,tls', 'tcp.port==443,tls']).map((r) => r.join(' '));
  expect(sorted(txs.map((t) => `${t.flow.key.srcPort} ${t.request!.method} ${t.request!.uri} ${t.request!.host}`))).toEqual(sorted(theirRequests));
  expect(sorted(txs.map((t) => `${t.flow.key.srcPort} ${t.response!.status} ${t.response!.contentLength ?? ''}`))).toEqual(sorted(theirResponses));
  expect(sorted(hs.map((r) => `${r.flow.key.srcPort} ${r.sni} ${r.ja3}`))).toEqual(sorted(theirHellos));
  expect(txs.length).toBeGreaterThan(40);
  expect(hs.length).toBeGreaterThan(10);
  console.log(`generated trace compared with tshark: ${txs.length} HTTP transactions (method, uri, host, code, content_length), ${hs.length} ClientHellos (server_name, ja3), 0 mismatches`);
});
