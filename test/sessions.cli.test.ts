// `wirecap sessions`, and the records `read --sessions` and `capture --sessions` print.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describeLive } from './helpers/live';
import { capturesPort } from './helpers/sockets';
import { ROOT, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const LATEST = path.join(__dirname, 'fixtures', 'ja4', 'latest.pcapng');
const expected = require('./fixtures/ja4/expected.json')['latest.pcapng'] as Array<{ srcPort: number; sni: string; ja4: string; ja4s: string }>;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('wirecap sessions FILE: one line per connection, with SNI, ALPN and JA4 for TLS and host and requests for HTTP', () => {
  const r = cli(['sessions', LATEST]);
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(6);
  for (const e of expected) {
    const line = lines.find((l) => l.includes(`:${e.srcPort} > `))!;
    expect(line).toContain(` TLS sni=${e.sni} `);
    expect(line).toContain(` ja4=${e.ja4} ja4s=${e.ja4s} `);
  }
  expect(lines.filter((l) => / HTTP host=apps\.identrust\.com requests=1 first="GET \/roots\/dstrootcax3\.p7c" status=304$/.test(l))).toHaveLength(1);
  expect(r.stderr).toMatch(/flows looked at, 5 tls, 1 http, 6 records, 0 bytes given up/);
});

test('wirecap sessions --json: one object per connection with its flow key, times and records; --records -c 2: two records', () => {
  const conns = cli(['sessions', LATEST, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(conns).toHaveLength(6);
  const tls = conns.find((c) => c.records[0].kind === 'tls' && c.flow.key.srcPort === expected[0].srcPort);
  expect(tls).toMatchObject({ flow: { key: { protocol: 6, dstPort: 443 } }, records: [{ sni: expected[0].sni, ja4: expected[0].ja4, clientTime: expect.stringMatching(/^\d+$/) }] });
  expect(tls.first).toMatch(/^\d{4}-\d\d-\d\dT/);
  const records = cli(['sessions', LATEST, '--records', '--json', '-c', '2']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(records.map((x) => x.kind)).toEqual(['tls', 'tls']);
});

test('wirecap read --sessions prints each record after the packet that completed it, as text or JSON', () => {
  const text = cli(['read', LATEST, '--sessions']).stdout.split('\n');
  const at = text.findIndex((l) => l.startsWith('  HTTP '));
  expect(text[at]).toMatch(/^ {2}HTTP 172\.16\.225\.48:52939 > 23\.43\.242\.57:80 GET apps\.identrust\.com\/roots\/dstrootcax3\.p7c -> 304 Not Modified \(0 bytes\)$/);
  expect(text[at - 1]).toMatch(/ IP 23\.43\.242\.57\.80 > 172\.16\.225\.48\.52939: /);
  expect(text.filter((l) => l.startsWith('  TLS ')).length).toBe(5);
  const json = cli(['read', LATEST, '--sessions', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(json.filter((x) => x.record !== undefined).map((x) => x.record.kind).sort()).toEqual(['http', 'tls', 'tls', 'tls', 'tls', 'tls']);
});

test('wirecap flows --sessions: each flow line followed by its records; --json: a sessions array in each flow object', () => {
  const lines = cli(['flows', LATEST, '--sessions']).stdout.split('\n');
  const at = lines.findIndex((l) => l.includes(':52939 <-> 23.43.242.57:80'));
  expect(lines[at + 1]).toMatch(/^ {2}HTTP 172\.16\.225\.48:52939 > 23\.43\.242\.57:80 GET apps\.identrust\.com\/roots\/dstrootcax3\.p7c -> 304 /);
  expect(lines.filter((l) => l.startsWith('  TLS ')).length).toBe(5);
  const flows = cli(['flows', LATEST, '--sessions', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  const tls = flows.find((f) => f.srcPort === expected[1].srcPort);
  expect(tls.sessions).toEqual([expect.objectContaining({ kind: 'tls', sni: expected[1].sni, ja4: expected[1].ja4 })]);
  expect(flows.filter((f) => f.sessions.length > 0)).toHaveLength(6);
});

describeLive('wirecap capture --sessions', () => {
  test('prints the HTTP transactions of live traffic on lo', async () => {
    const server = http.createServer((_req, res) => res.end('live'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn(process.execPath, [CLI, 'capture', 'lo', `tcp port ${port}`, '--sessions', '--immediate'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await waitFor(() => capturesPort(child.pid!, port), 15000, "the capture's filter in the kernel");
      for (const p of ['/one', '/two']) await new Promise<void>((resolve) => http.get({ host: '127.0.0.1', port, path: p, headers: { Host: 'live.test' } }, (res) => res.resume().on('end', resolve)));
      await waitFor(() => (out.match(/^ {2}HTTP /gm) ?? []).length >= 2, 20000, 'both transactions printed');
    } finally {
      child.kill('SIGINT');
      await new Promise((resolve) => child.on('close', resolve));
      server.close();
    }
    expect(out.match(/^ {2}HTTP .* GET live\.test\/(one|two) -> 200 OK \(4 bytes\)$/gm)).toHaveLength(2);
  });
});
