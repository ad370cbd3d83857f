// Wireshark's extcap protocol, through tshark 4.0 itself: the launcher is
// installed where tshark looks, tshark lists wirecap's interfaces, and
// tshark -i captures what a running `wirecap publish` (JetStream) or
// `wirecap stream` (gRPC) sends, equal to the source as libpcap reads both.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createStream, freePort, NatsCluster, startNats } from './helpers/nats';
import { pcapBytes, referenceRead, ReferencePacket, syntheticPackets } from './helpers/trace';
import { ROOT, sleep, tcpState, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const wirecap = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

let dir: string;
let trace: string;
let source: ReferencePacket[];
let nats: NatsCluster;
let installed: string[] = [];
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-extcap-'));
  trace = path.join(dir, 'trace.pcap');
  fs.writeFileSync(trace, pcapBytes(syntheticPackets(60), { nano: true }));
  source = referenceRead(trace).packets;
  nats = await startNats(1);
  await createStream(nats.urls, 'EXT', ['ext.>']);
  const r = wirecap(['extcap', '--install']);
  expect(r.status).toBe(0);
  installed = r.stdout.trim().split('\n').map((l) => l.replace(/^installed /, ''));
});
afterAll(async () => {
  try {
    const r = wirecap(['extcap', '--uninstall']);
    expect(r.status).toBe(0);
    for (const file of installed) expect(fs.existsSync(file)).toBe(false);
  } finally {
    await nats?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** tshark capturing count packets from an extcap interface into a pcapng file; resolves once it exits (killed after 40 s). */
function tshark(iface: string, prefs: Record<string, string>, count: number, out: string, filter?: string): Promise<{ code: number | null; stderr: string }> {
  const args = ['-i', iface, '-c', String(count), '-w', out, ...(filter ? ['-f', filter] : [])];
  for (const [name, value] of Object.entries(prefs)) args.push('-o', `extcap.${iface.replace(/-/g, '_')}.${name}:${value}`);
  const child = spawn('tshark', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 40000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    }),
  );
}

const key = (p: ReferencePacket): string => `${p.timestamp} ${p.caplen} ${p.len} ${p.hex}`;
const microKey = (p: ReferencePacket): string => `${p.timestamp / 1000n} ${p.caplen} ${p.len} ${p.hex}`;

test('the launcher is where tshark looks, and tshark -D lists the JetStream and gRPC interfaces', () => {
  expect(installed.length).toBeGreaterThan(0);
  for (const file of installed) expect(fs.statSync(file).mode & 0o111).not.toBe(0);
  const list = spawnSync('tshark', ['-D'], { encoding: 'utf8' }).stdout;
  expect(list).toMatch(/\d+\. wirecap-nats \(wirecap: NATS JetStream stream\)/);
  expect(list).toMatch(/\d+\. wirecap-grpc \(wirecap: gRPC PacketStreaming listener\)/);
});

test('the extcap queries answer in the protocol: interfaces, one DLT, and the config options with their defaults', () => {
  expect(wirecap(['extcap', '--extcap-interfaces', '--extcap-version=4.0']).stdout).toMatch(/^extcap \{version=[\d.]+\}\{help=[^}]+\}\ninterface \{value=wirecap-nats\}/);
  expect(wirecap(['extcap', '--extcap-interface', 'wirecap-nats', '--extcap-dlts']).stdout).toBe('dlt {number=1}{name=EN10MB}{display=Ethernet}\n');
  const config = wirecap(['extcap', '--extcap-interface=wirecap-nats', '--extcap-config']).stdout.trim().split('\n');
  expect(config).toContain('arg {number=1}{call=--stream}{display=Stream}{type=string}{default=PACKETS}{required=true}');
  expect(config.some((l) => l.startsWith('arg {number=4}{call=--since}'))).toBe(true);
  expect(wirecap(['extcap', '--extcap-interface', 'nope', '--extcap-dlts']).status).toBe(2);
});

test('tshark -i wirecap-nats -c N -w out.pcapng captures what a running `wirecap publish` sends, equal to the source as libpcap reads both', async () => {
  const since = new Date(Date.now() - 500).toISOString();
  const out = path.join(dir, 'nats.pcapng');
  const capture = tshark('wirecap-nats', { nats: nats.urls[0], stream: 'EXT', since }, source.length, out);
  await sleep(500);
  const pub = wirecap(['publish', trace, '--nats', nats.urls[0], '--subject', 'ext.a', '--sensor', 'edge-3', '--batch', '16']);
  expect(pub.stdout).toMatch(/^60 packets in 4 messages/);
  const r = await capture;
  expect(r.code).toBe(0);
  expect(r.stderr).not.toMatch(/Error by extcap/);
  expect(referenceRead(out).packets.map(key)).toEqual(source.map(key));
}, 60000);

test('the capture filter (tshark -f) is applied by libpcap to the stream\'s packets, and --sensor keeps one sensor', async () => {
  const since = new Date(Date.now() - 500).toISOString();
  wirecap(['publish', trace, '--nats', nats.urls[0], '--subject', 'ext.b', '--sensor', 'edge-4', '--batch', '16']);
  wirecap(['publish', trace, '--nats', nats.urls[0], '--subject', 'ext.c', '--sensor', 'edge-5', '--batch', '16']);
  const wanted = source.filter((p) => p.len > 700);
  const out = path.join(dir, 'filtered.pcapng');
  const r = await tshark('wirecap-nats', { nats: nats.urls[0], stream: 'EXT', since, sensor: 'edge-5' }, wanted.length, out, 'len > 700');
  expect(r.code).toBe(0);
  expect(referenceRead(out).packets.map(key)).toEqual(wanted.map(key));
}, 60000);

test('tshark -i wirecap-grpc captures what `wirecap stream` sends to it (in microseconds, as the protocol carries them)', async () => {
  const port = await freePort();
  const out = path.join(dir, 'grpc.pcapng');
  const capture = tshark('wirecap-grpc', { port: String(port), host: '127.0.0.1' }, source.length, out);
  await waitFor(() => tcpState(port, '0A'), 20000, 'the extcap to listen');
  const sent = wirecap(['stream', trace, '--to', `127.0.0.1:${port}`]);
  expect(sent.stdout).toMatch(/^60 packets sent/);
  const r = await capture;
  expect(r.code).toBe(0);
  expect(referenceRead(out).packets.map(microKey)).toEqual(source.map(microKey));
}, 60000);

