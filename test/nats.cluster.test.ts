// A 3-node JetStream cluster of real nats-server processes on 127.0.0.1 and
// an R3 stream: two sensors publish while the stream's leader is killed and
// restarted, and the collector (`wirecap consume`, a child process) is
// killed with SIGKILL mid-file and restarted. Every source packet, as
// libpcap reads the source files, must be in the collector's files exactly
// once, in order per sensor.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Packet, openOffline, publishPackets } from '../lib';
import { createStream, NatsCluster, startNats, withJetStream } from './helpers/nats';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { ROOT, sleep, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

let dir: string;
let nats: NatsCluster;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-nats-cluster-'));
  nats = await startNats(3);
});
afterAll(async () => {
  await nats.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The file's packets at a bounded pace, copied out of the reader's
 * batches; after `holdAt` packets, none until `hold` resolves (so that a
 * fault lands mid-publish however slow the machine).
 */
async function* paced(file: string, every: number, pauseMs: number, holdAt = -1, hold: Promise<void> = Promise.resolve()): AsyncGenerator<Packet> {
  let n = 0;
  for await (const p of openOffline(file)) {
    yield { ...p, data: Buffer.from(p.data) };
    if (++n === holdAt) await hold;
    if (n % every === 0) await sleep(pauseMs);
  }
}

function collector(out: string): ChildProcess {
  const args = [CLI, 'consume', '--nats', nats.urls.join(','), '--stream', 'FAULT', '--durable', 'files', '-w', out, '-C', '1', '--ack-wait', '5000'];
  const log = fs.openSync(path.join(dir, 'collector.log'), 'a');
  return spawn(process.execPath, args, { stdio: ['ignore', log, log] });

}

async function exited(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

test('3 nodes, R3: a leader and the collector killed mid-run, yet every packet of two sensors is in the files once and in order', async () => {
  await createStream(nats.urls, 'FAULT', ['fault.>'], 3);
  const traces = { a: path.join(dir, 'a.pcap'), b: path.join(dir, 'b.pcap') };
  fs.writeFileSync(traces.a, pcapBytes(syntheticPackets(24000, 1_700_000_000_000_000_000n), { nano: true }));
  fs.writeFileSync(traces.b, pcapBytes(syntheticPackets(12000, 1_800_000_000_000_000_000n), { nano: true }));
  // libpcap's reading of the sources is the reference: packet i of sensor s.
  const where = new Map<string, { sensor: string; index: number }>();
  const key = (p: { timestamp: bigint; caplen: number; len: number; hex: string }): string => `${p.timestamp} ${p.caplen} ${p.len} ${p.hex}`;
  for (const sensor of ['a', 'b'] as const) referenceRead(traces[sensor]).packets.forEach((p, index) => where.set(key(p), { sensor, index }));
  expect(where.size).toBe(36000);

  const out = path.join(dir, 'out', 'fault.pcap');
  fs.mkdirSync(path.dirname(out));
  let child = collector(out);
  let leaderDied = (): void => undefined;
  const leaderDead = new Promise<void>((resolve) => (leaderDied = resolve));
  const publish = (sensor: 'a' | 'b', every: number, holdAt?: number) =>
    publishPackets(paced(traces[sensor], every, 20, holdAt, leaderDead), { servers: nats.urls, subject: `fault.${sensor}`, sensor, batchPackets: 200, ackTimeoutMs: 2000 });
  // Sensor a waits halfway until the leader is dead, then publishes into the election.
  const publishers = [publish('a', 100, 12000), publish('b', 50)];

  // The collector dies mid-file, once a group of its is in the files (its
  // state says 'flushed'; a file alone may hold only a group it would cut
  // back on restart); then the stream's leader dies mid-publish; the
  // collector comes back while the leader is away, and the leader after it.
  const flushed = (): boolean => {
    try {
      return (JSON.parse(fs.readFileSync(`${out}.state`, 'utf8')) as { phase: string }).phase === 'flushed';
    } catch {
      return false; // not written yet (it is replaced by rename, never seen half-written)
    }
  };
  await waitFor(flushed, 20000, "the first collector's first flushed group");
  await sleep(200);
  await exited(child, 'SIGKILL');
  const leader = await withJetStream(nats.urls, async (nc) => (await (await nc.jetstreamManager()).streams.info('FAULT')).cluster!.leader!);
  const node = nats.nodes.find((n) => n.name === leader)!;
  await node.kill();
  leaderDied();
  child = collector(out);
  await sleep(1500);
  await node.start();

  const stats = await Promise.all(publishers.map((p) => p.done));
  expect(stats.map((s) => [s.sent, s.dropped])).toEqual([
    [24000, 0],
    [12000, 0],
  ]);
  // The leader's death reached the publishers: PubAcks that did not come, publishes sent again.
  expect(stats[0].retries + stats[1].retries).toBeGreaterThan(0);
  // Done when the consumer has nothing pending or unacknowledged.
  for (;;) {
    const info = await withJetStream(nats.urls, async (nc) => (await nc.jetstreamManager()).consumers.info('FAULT', 'files'));
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await sleep(250);
  }
  await exited(child, 'SIGTERM');

  // The restarted collector wrote the rest: the first had written part, and was killed mid-file.
  const restarted = /^(\d+) packets from/m.exec(fs.readFileSync(path.join(dir, 'collector.log'), 'utf8'));
  expect(Number(restarted?.[1])).toBeGreaterThan(0);
  expect(Number(restarted?.[1])).toBeLessThan(36000);
  const files = fs.readdirSync(path.dirname(out)).filter((f) => f.endsWith('.pcap')).sort();
  expect(files.length).toBeGreaterThan(5);
  const next = { a: 0, b: 0 };
  const seen = new Set<string>();
  const unknown: string[] = [];
  const outOfOrder: string[] = [];
  for (const f of files) {
    const read = referenceRead(path.join(dir, 'out', f));
    expect(read.end).not.toMatch(/truncated|error/i);
    for (const p of read.packets) {
      const k = key(p);
      const w = where.get(k);
      if (w === undefined) {
        unknown.push(k.slice(0, 40));
        continue;
      }
      if (seen.has(k) || w.index !== next[w.sensor as 'a' | 'b']) outOfOrder.push(`${f}: ${w.sensor} ${w.index}, expected ${next[w.sensor as 'a' | 'b']}`);
      seen.add(k);
      next[w.sensor as 'a' | 'b'] = w.index + 1;
    }
  }
  expect(unknown).toEqual([]);
  expect(outOfOrder.slice(0, 5)).toEqual([]);
  expect(seen.size).toBe(36000); // lost: 36000 - seen.size
}, 180000); // about 30 s alone, 50-65 s on a loaded 2-core machine (reading 36,000 packets back is CPU-bound)
