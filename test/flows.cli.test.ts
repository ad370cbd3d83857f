// `wirecap flows` and `wirecap follow` (lib/cli/flows.ts, follow.ts): the
// table against the API, follow's raw bytes against tshark's, streaming
// from a device.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { openOffline, trackFlows, type Flow } from '../lib';
import { describeLive } from './helpers/live';
import { pcapBytes } from './helpers/trace';
import { ROOT, sleep, waitFor } from './helpers/traffic';
import { parseFollow, tsharkFollow } from './helpers/tshark-conv';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tcpConversations } = require('./helpers/conversations.js');

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30000, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

let dir: string;
let file: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-flows-cli-'));
  file = path.join(dir, 'messy.pcap');
  const { frames } = tcpConversations({ seed: 31, connections: 12, v6: 0.5, reorder: 0.1, duplicate: 0.1, drop: 0.05, overlap: 0.1, midstream: 0.1 });
  fs.writeFileSync(file, pcapBytes(frames, { nano: true }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('wirecap flows', () => {
  test('--json gives every flow trackFlows gives; --sort packets --top 3 the three with most packets; the summary goes to stderr', async () => {
    const api: Flow[] = [];
    for await (const f of trackFlows(openOffline(file))) api.push(f);
    const all = cli(['flows', file, '--json']);
    expect(all.status).toBe(0);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => `${r.src}:${r.srcPort}>${r.dst}:${r.dstPort} ${r.client.packets}/${r.server.packets}`).sort()).toEqual(
      api.map((f) => `${f.key.src}:${f.key.srcPort}>${f.key.dst}:${f.key.dstPort} ${f.client.packets}/${f.server.packets}`).sort(),
    );
    expect(all.stderr).toContain(`${api.length} flows`);
    const top = cli(['flows', file, '--sort', 'packets', '--top', '3']);
    const lines = top.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^proto\s+client <-> server/);
    const most = [...api].sort((a, b) => b.client.packets + b.server.packets - (a.client.packets + a.server.packets)).slice(0, 3);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(most.map((f) => (f.key.version === 6 ? `[${f.key.src}]:${f.key.srcPort}` : `${f.key.src}:${f.key.srcPort}`)));
  });

  test('a bad sort key is a usage error', () => {
    expect(cli(['flows', file, '--sort', 'colour']).status).toBe(2);
  });
});

describe('wirecap follow', () => {
  test('--format raw by --index: each direction byte for byte as tshark -z follow,tcp,raw (gaps included); --tuple finds the same stream', () => {
    const theirs = tsharkFollow(file, [0, 1, 2, 3]);
    for (const n of [0, 1, 2, 3]) {
      const r = cli(['follow', file, '--index', String(n), '--format', 'raw']);
      expect(r.status).toBe(0);
      const mine = parseFollow(r.stdout).get(n)!;
      const t = theirs.get(n)!;
      expect([mine.node0, mine.node1].sort()).toEqual([t.node0, t.node1].sort());
      const flip = mine.node0 !== t.node0;
      expect(mine.bytes[0].equals(t.bytes[flip ? 1 : 0])).toBe(true);
      expect(mine.bytes[1].equals(t.bytes[flip ? 0 : 1])).toBe(true);
      if (n === 0) {
        const bracket = (e: string): string => (e.split(':').length > 2 ? `[${e.slice(0, e.lastIndexOf(':'))}]${e.slice(e.lastIndexOf(':'))}` : e);
        const byTuple = cli(['follow', file, '--tuple', `${bracket(t.node1)},${bracket(t.node0)}`, '--format', 'raw']);
        expect(byTuple.stdout.split('\n').slice(5).join('\n')).toBe(r.stdout.split('\n').slice(5).join('\n'));
      }
    }
  });

  test('ascii and hex formats; no --index or --tuple, or an index past the last connection, is an error', () => {
    const ascii = cli(['follow', file, '-i', '0']);
    expect(ascii.stdout).toContain('Follow: tcp,ascii');
    const hex = cli(['follow', file, '-i', '0', '-f', 'hex']);
    expect(hex.stdout).toMatch(/\n00000000 {2}([0-9a-f]{2} ){15}[0-9a-f]{2} {2}/);
    expect(cli(['follow', file])).toMatchObject({ status: 1, stderr: expect.stringContaining('--index or --tuple') });
    expect(cli(['follow', file, '-i', '99'])).toMatchObject({ status: 1, stderr: expect.stringContaining('no TCP connection 99 (12 seen)') });
  });
});

describeLive('wirecap flows on a device', () => {
  test('streams each flow as it ends (--timeout 0.1: a flow ends at the first packet 0.1 s of packet time after its last), the rest on Ctrl-C', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const child = spawn(process.execPath, [CLI, 'flows', 'lo', `tcp port ${port}`, '--json', '--timeout', '0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const get = (): Promise<void> => new Promise((resolve) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => res.resume().on('end', resolve)));
    // Until the capture is open, requests go unseen: ask until one is printed.
    const seen = (): number => stdout.split('\n').filter((l) => l.includes(`"dstPort":${port}`)).length;
    await waitFor(() => {
      void get();
      return seen() >= 1;
    }, 15000, 'a first flow printed while capturing');
    const before = seen();
    await sleep(300);
    await get();
    await sleep(300);
    await get();
    await waitFor(() => seen() > before, 15000, 'a later flow printed while capturing');
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    server.close();
    expect(code).toBe(0);
    const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
    // A connection already under way when the capture opened is picked up
    // mid-stream: its direction is a guess (said so), and may name the server as client.
    expect(rows.every((r) => r.proto === 'tcp' && (r.dstPort === port || (r.directionGuessed && r.srcPort === port)))).toBe(true);
    expect(rows.filter((r) => r.tcp.state === 'SF').length).toBeGreaterThanOrEqual(2);
  });
});
