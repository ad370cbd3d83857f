// Two collectors on one durable consumer, and one of them killed (SIGKILL)
// at the worst moments: after a group is flushed to its file but before it
// is claimed, and after the claim but before the ack. The group is then
// delivered to the other collector once the ack wait has passed. Every
// source packet, as libpcap reads the source, must be in the two
// collectors' files exactly once. (The group that came back may land in the
// other file after newer messages: a redelivery comes when it comes.)
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectPackets, openOffline, publishPackets } from '../lib';
import { createStream, NatsCluster, startNats, withJetStream } from './helpers/nats';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { ROOT, sleep, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const PACKETS = 3000;

let dir: string;
let nats: NatsCluster;
let trace: string;
const key = (p: { timestamp: bigint; caplen: number; len: number; hex: string }): string => `${p.timestamp} ${p.caplen} ${p.len} ${p.hex}`;
let where: Map<string, number>;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-nats-collectors-'));
  nats = await startNats(1);
  trace = path.join(dir, 'source.pcap');
  fs.writeFileSync(trace, pcapBytes(syntheticPackets(PACKETS), { nano: true }));
  where = new Map(referenceRead(trace).packets.map((p, i) => [key(p), i]));
});
afterAll(async () => {
  await nats.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `wirecap consume` on the durable 'pair', 4 messages a fetch, 5 s ack wait. */
function collector(stream: string, out: string, dies?: string): ChildProcess {
  const args = [CLI, 'consume', '--nats', nats.urls.join(','), '--stream', stream, '--durable', 'pair', '-w', out, '--fetch', '4', '--ack-wait', '5000'];
  const log = fs.openSync(`${out}.log`, 'a');
  const env = { ...process.env, WIRECAP_COLLECTOR_DIES: dies ?? '' };
  return spawn(process.execPath, args, { stdio: ['ignore', log, log], env });
}

function exit(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
}

async function drained(stream: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const info = await withJetStream(nats.urls, async (nc) => (await nc.jetstreamManager()).consumers.info(stream, 'pair'));
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    await sleep(100);
  }
  throw new Error(`the consumer of ${stream} still has messages outstanding`);
}

/** Source indexes in a file, as libpcap reads it. */
function indexes(file: string): number[] {
  const read = referenceRead(file);
  expect(read.end).not.toMatch(/truncated|error/i);
  return read.packets.map((p) => where.get(key(p)) ?? -1);
}

/**
 * Publishes the source in 30 messages, runs collector A until it kills
 * itself at `dies`, then collector B until the consumer is drained (the
 * group A held comes to B after the ack wait), then A again.
 */
async function run(stream: string, dies: string): Promise<{ a: number[]; b: number[] }> {
  await createStream(nats.urls, stream, [`${stream.toLowerCase()}.>`]);
  const sent = await publishPackets(openOffline(trace), { servers: nats.urls, subject: `${stream.toLowerCase()}.s`, sensor: 's', batchPackets: 100 }).done;
  expect(sent.sent).toBe(PACKETS);
  const outs = { a: path.join(dir, `${stream}-a.pcap`), b: path.join(dir, `${stream}-b.pcap`) };
  const a = collector(stream, outs.a, dies);
  expect(await exit(a)).toBe('SIGKILL');
  const b = collector(stream, outs.b);
  await drained(stream);
  const again = collector(stream, outs.a);
  // A settles the group its state names, then has nothing to fetch.
  await waitFor(() => fs.existsSync(outs.a) && fs.existsSync(outs.b) && indexes(outs.a).length + indexes(outs.b).length === PACKETS, 20000, 'each packet in one file');
  await sleep(500);
  for (const child of [b, again]) child.kill('SIGTERM');
  await Promise.all([exit(b), exit(again)]);
  return { a: indexes(outs.a), b: indexes(outs.b) };
}

function expectOnce(files: { a: number[]; b: number[] }): void {
  const all = [...files.a, ...files.b].sort((x, y) => x - y);
  expect(all).toEqual(Array.from({ length: PACKETS }, (_, i) => i));
  expect(files.b.length).toBeGreaterThan(0);
}

test('a collector killed after flushing a group, before claiming it: the other collector writes the group and the first cuts it from its file', async () => {
  const files = await run('DIEFLUSHED', 'flushed:2');
  expectOnce(files);
  // A kept its first group (4 messages of 100 packets); the second is B's.
  expect(files.a).toEqual(Array.from({ length: 400 }, (_, i) => i));
}, 60000);

test('a collector killed after claiming a group, before acking it: the other collector skips the group, which stays in the first one\'s file', async () => {
  const files = await run('DIECLAIMED', 'claimed:2');
  expectOnce(files);
  expect(files.a).toEqual(Array.from({ length: 800 }, (_, i) => i));
  expect(fs.readFileSync(path.join(dir, 'DIECLAIMED-b.pcap.log'), 'utf8')).toMatch(/, [1-9]\d* duplicates skipped/);
}, 60000);

test('a durable deleted and made again under its name collects the stream afresh: the first one\'s claims do not count', async () => {
  await createStream(nats.urls, 'AGAIN', ['again.>']);
  expect((await publishPackets(openOffline(trace), { servers: nats.urls, subject: 'again.s', batchPackets: 100 }).done).sent).toBe(PACKETS);
  const collect = async (out: string): Promise<number[]> => {
    const collector = collectPackets({ servers: nats.urls, stream: 'AGAIN', durable: 'pair', fetchMessages: 4, write: { path: out } });
    // Duplicates skipped would mean the old claims counted: stop there, the file then falls short.
    await waitFor(() => collector.stats().packets >= PACKETS || collector.stats().duplicates > 0, 20000, 'the stream collected');
    collector.stop();
    await collector.done;
    return indexes(out);
  };
  const all = Array.from({ length: PACKETS }, (_, i) => i);
  expect(await collect(path.join(dir, 'again-1.pcap'))).toEqual(all);
  await withJetStream(nats.urls, async (nc) => (await nc.jetstreamManager()).consumers.delete('AGAIN', 'pair'));
  expect(await collect(path.join(dir, 'again-2.pcap'))).toEqual(all);
}, 60000);

test('claimsMs below a minute, or not an integer, is EINVAL naming it', () => {
  for (const claimsMs of [10, 1.5, '60000']) {
    expect(() => collectPackets({ servers: nats.urls, stream: 'AGAIN', durable: 'pair', write: { path: path.join(dir, 'never.pcap') }, claimsMs: claimsMs as number })).toThrow(
      expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/claimsMs/) }),
    );
  }
});
