import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLive } from './helpers/live';
import { capinfos } from './helpers/tools';
import { nastyTrace } from './helpers/nasty';
import { pcapBytes, random, referenceRead, syntheticPackets } from './helpers/trace';
import { capturesPort } from './helpers/sockets';
import { markedPayloads, ROOT, sendUdp, udpSink, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

function cli(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20000, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts the CLI. ready(port) resolves to true once the child's capture has
 * its filter on port in the kernel (what is sent to port from then on is
 * captured; its signal handlers are set in the same synchronous run, right
 * after the open), false if it exits first; a fixed sleep loses that race
 * on a loaded machine.
 */
function start(args: string[]): {
  child: ChildProcess;
  ready: (port: number) => Promise<boolean>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20000);
  let exited = false;
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      exited = true;
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
  const ready = async (port: number): Promise<boolean> => {
    await waitFor(() => exited || capturesPort(child.pid!, port), 15000, `the capture's filter on port ${port}`);
    return !exited;
  };
  return { child, ready, exit };
}

/** Sends one datagram every 50 ms until the CLI exits (at most 400): it may start capturing after the first few went out. */
async function sendUntilExit(run: { exit: Promise<unknown> }, port: number, payload: Buffer): Promise<void> {
  const done = run.exit.then(() => true);
  for (let sent = 0; sent < 400 && !(await Promise.race([done, new Promise<boolean>((r) => setTimeout(() => r(false), 50))])); sent++) {
    await sendUdp(port, [payload]);
  }
}

/** A timestamp as `read --json` prints it. */
function isoNs(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d+Z$/, `.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`);
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('wirecap read / info', () => {
  const packets = syntheticPackets(20);

  test('read prints one line per packet with its time and summary', () => {
    const file = path.join(dir, 'r.pcap');
    fs.writeFileSync(file, pcapBytes(packets, { nano: true }));
    const r = cli(['read', file, '-c', '3']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{9} IP 0\.0\.0\.0 > 0\.0\.0\.0: ip-proto-0, length 0/);
  });

  test('read decodes each packet of a pcapng file by its own interface\'s link type (Ethernet and raw IP merged by mergecap)', () => {
    const eth = path.join(dir, 'm-eth.pcap');
    const raw = path.join(dir, 'm-raw.pcap');
    fs.writeFileSync(eth, pcapBytes(packets.slice(0, 5), { nano: true }));
    fs.writeFileSync(raw, pcapBytes(packets.slice(0, 5).map((p) => ({ ...p, data: p.data.subarray(14), len: undefined })), { nano: true, linktype: 101 }));
    const merged = path.join(dir, 'm.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, eth, raw]);
    const r = cli(['read', merged]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    for (const line of lines) expect(line).toMatch(/ IP 0\.0\.0\.0 > 0\.0\.0\.0: ip-proto-0, length 0/);
  });

  test('read --json gives the exact nanosecond timestamp and lengths; - reads standard input', () => {
    const bytes = pcapBytes(packets, { nano: true });
    const r = cli(['read', '-', '--json', '--hex'], bytes);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(20);
    expect(rows[5]).toMatchObject({
      timestamp: String(packets[5].timestamp),
      caplen: packets[5].data.length,
      len: packets[5].len,
      data: packets[5].data.toString('hex'),
    });
  });

  test('info --count agrees with capinfos on count, precision and link type; without --count it does not count', () => {
    const file = path.join(dir, 'i.pcap');
    fs.writeFileSync(file, pcapBytes(packets, { nano: true, bigEndian: true }));
    const info = JSON.parse(cli(['info', file, '--count', '--json']).stdout);
    const theirs = capinfos(file);
    expect(String(info.packets)).toBe(theirs['Number of packets']);
    const quick = JSON.parse(cli(['info', file, '--json']).stdout);
    expect(quick).toEqual({ ...info, packets: null });
    expect(info).toMatchObject({ format: 'pcap-nsec', byteOrder: 'big-endian', precision: 'nano', linktypeName: 'EN10MB', bytes: fs.statSync(file).size });
    expect(theirs['File timestamp precision']).toBe('nanoseconds (9)');
    expect(info.firstTime).toBe('2023-11-14T22:13:20.123456789Z');
  });

  test('slice merges two files in time order and cuts them to a window given as +seconds and ISO time', () => {
    const packets = syntheticPackets(60);
    const even = packets.filter((_, i) => i % 2 === 0);
    const odd = packets.filter((_, i) => i % 2 === 1);
    const a = path.join(dir, 'even.pcap');
    const b = path.join(dir, 'odd.pcap');
    fs.writeFileSync(a, pcapBytes(even, { nano: true }));
    fs.writeFileSync(b, pcapBytes(odd, { nano: true }));
    const out = path.join(dir, 'sliced.pcap');
    const start = packets[10].timestamp;
    const end = packets[30].timestamp;
    const iso = new Date(Number(end / 1_000_000n)).toISOString().replace(/\.\d+Z$/, `.${String(end % 1_000_000_000n).padStart(9, '0')}Z`);
    const offset = Number(start - packets[0].timestamp) / 1e9;
    const r = cli(['slice', '-w', out, '--start', `+${offset.toFixed(9)}`, '--end', iso, b, a]);
    expect(r.status).toBe(0);
    const expected = packets.slice(10, 30);
    expect(capinfos(out)['Number of packets']).toBe('20');
    const read = JSON.parse(`[${cli(['read', out, '--json']).stdout.trim().split('\n').join(',')}]`);
    expect(read.map((p: { time: string }) => p.time)).toEqual(expected.map((p) => isoNs(p.timestamp)));
    expect(cli(['slice', '-w', out, '--start', 'yesterday', a]).status).toBe(1);
  });

  test('slice on a trace that carries a copied trace writes exactly the packets in windows that start and end inside copied runs', () => {
    const file = path.join(dir, 'copied-runs.pcap');
    fs.writeFileSync(file, nastyTrace('copied-runs', 51, { nano: true }));
    const all = referenceRead(file).packets;
    const inRuns = all.map((_, i) => i).filter((i) => i > 0 && i + 1 < all.length && [i - 1, i, i + 1].every((k) => all[k].caplen === 1514));
    const rand = random(52);
    const seconds = (ns: bigint): string => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
    const out = path.join(dir, 'copied-window.pcap');
    for (let w = 0; w < 6; w++) {
      const [from, to] = [inRuns[Math.floor(rand() * inRuns.length)], inRuns[Math.floor(rand() * inRuns.length)]].sort((a, b) => a - b);
      expect(cli(['slice', '-w', out, '--start', seconds(all[from].timestamp), '--end', seconds(all[to].timestamp), file]).status).toBe(0);
      expect(referenceRead(out).packets.map((p) => `${p.timestamp} ${p.hex}`)).toEqual(all.slice(from, to).map((p) => `${p.timestamp} ${p.hex}`));
    }
  });

  test('a bad file exits 1 with a wirecap: message; a usage error exits 2', () => {
    const bad = cli(['read', path.join(dir, 'missing.pcap')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^wirecap: cannot read .*missing\.pcap/);
    expect(cli(['frobnicate']).status).toBe(2);
  });
});

describeLive('wirecap capture / dump / list', () => {
  test('list includes lo with its address', () => {
    const r = cli(['list']);
    expect(r.stdout).toMatch(/\d+\. lo \[loopback, up, running\] 127\.0\.0\.1/);
  });

  test('capture -c 5 --json prints exactly the five datagrams sent', async () => {
    const sink = await udpSink();
    const run = start(['capture', 'lo', 'udp', 'and', 'dst', 'port', String(sink.port), '-c', '5', '--json']);
    await sendUntilExit(run, sink.port, Buffer.from('twelve bytes'));
    const { code, stdout, stderr } = await run.exit;
    expect(code).toBe(0);
    const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row).toMatchObject({ caplen: 54, len: 54 });
      expect(row.summary).toMatch(new RegExp(`^IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${sink.port}: UDP, length 12$`));
      expect(row.layers.map((l: { layer: string }) => l.layer)).toEqual(['ethernet', 'ipv4', 'udp']);
      expect(row.layers[2]).toMatchObject({ dstPort: sink.port, length: 20 });
      expect(row).toMatchObject({ payloadOffset: 42, payloadLength: 12 });
    }
    expect(stderr).toMatch(/^\d+ packets captured, \d+ delivered, 0 dropped by kernel/);
    sink.close();
  });

  test('Ctrl-C stops a capture, prints its stats and exits 0', async () => {
    const run = start(['capture', 'lo', 'udp', 'port', '9']);
    expect(await run.ready(9)).toBe(true);
    run.child.kill('SIGINT');
    const { code, stderr } = await run.exit;
    expect(code).toBe(0);
    expect(stderr).toMatch(/packets captured, \d+ delivered/);
  });

  test('an unknown interface exits 1 with the ENODEV message', () => {
    const r = cli(['capture', 'wirecap-nope0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^wirecap: no such device: wirecap-nope0/);
  });

  test('dump -w writes a file that capinfos reads, and Ctrl-C ends it cleanly', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'cli.pcapng');
    const run = start(['dump', 'lo', 'udp', 'and', 'dst', 'port', String(sink.port), '-w', file, '--format', 'pcapng']);
    expect(await run.ready(sink.port)).toBe(true);
    await sendUdp(sink.port, markedPayloads('cli', 25));
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exit;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^25 packets, \d+ bytes in 1 file\(s\) .*ended: stopped; mode: user/m);
    expect(capinfos(file)).toMatchObject({ 'Number of packets': '25', 'File type': 'pcapng' });
    sink.close();
  });

  test('dump -c stops at the packet count', async () => {
    const sink = await udpSink();
    const file = path.join(dir, 'count.pcap');
    const run = start(['dump', 'lo', 'udp', 'and', 'dst', 'port', String(sink.port), '-w', file, '-c', '10']);
    await sendUntilExit(run, sink.port, Buffer.from('count'));
    const { code, stdout } = await run.exit;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^10 packets/);
    expect(execFileSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' })).toMatch(/Number of packets:\s+10/);
    sink.close();
  });
});
