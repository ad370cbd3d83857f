// replay() on veth pairs in a namespace of the test's own: the frames a
// tcpdump on the far end captured, read by libpcap, against the source.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AbortError, consumePackets, openOffline, publishPackets, replay, ReplayResult, WirecapError } from '../lib';
import { createStream, startNats } from './helpers/nats';
import { describeLive } from './helpers/live';
import { makeNetns, Netns } from './helpers/netns';
import { capturePeer } from './helpers/peer';
import { FRAME_FILTER, frame, frames, indexOf } from './helpers/frames';
import { pcapBytes, referenceRead, TracePacket } from './helpers/trace';
import { runNode, waitFor } from './helpers/traffic';
import { sendQueueShim } from './helpers/tools';

let dir: string;
let ns: Netns;
let device: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-replay-'));
  ns = makeNetns(1, 'rp');
  device = ns.pairs[0].device;
});
afterAll(() => {
  ns?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

function trace(name: string, packets: TracePacket[], options: { nano?: boolean; linktype?: number } = {}): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pcapBytes(packets, { nano: options.nano ?? true, linktype: options.linktype }));
  return file;
}

/** Replays with a capture running on the peer; what arrived, as libpcap reads it. */
async function replayCaptured(source: Parameters<typeof replay>[0], options: Parameters<typeof replay>[2], name: string): Promise<{ result: ReplayResult | null; error: unknown; arrived: ReturnType<typeof referenceRead>['packets'] }> {
  const out = path.join(dir, `${name}.peer.pcap`);
  const peer = await capturePeer(ns, device, out, FRAME_FILTER);
  let result: ReplayResult | null = null;
  let error: unknown = null;
  const run = replay(source, device, options);
  try {
    result = await run.done;
  } catch (e) {
    error = e;
  }
  await peer.stop(run.stats().sent);
  return { result, error, arrived: referenceRead(out).packets };
}

/** Every pushed packet is counted once. */
function expectAccounted(s: ReplayResult | ReturnType<ReturnType<typeof replay>['stats']>): void {
  expect(s.sent + s.failed + s.oversize + s.filtered + s.unsent).toBe(s.taken);
}

describeLive('replay onto a veth pair', () => {
  test('the frames arrive byte for byte and in order, as libpcap reads both files', async () => {
    const file = trace('fidelity.pcap', frames(400, 20_000n));
    const { result, arrived } = await replayCaptured(file, { topspeed: true }, 'fidelity');
    const sent = referenceRead(file).packets;
    expect(result).toMatchObject({ sent: 400, taken: 400, failed: 0, reason: 'end', mode: 'inject' });
    expect(result!.bytes).toBe(sent.reduce((n, p) => n + p.caplen, 0));
    expect(arrived.map((p) => p.hex)).toEqual(sent.map((p) => p.hex));
  });

  test('at speed 2 no packet leaves before its scaled time, and the gaps are kept in order', async () => {
    const packets = frames(40, 5_000_000n); // 200 ms of trace: 100 ms at speed 2
    const { result, arrived } = await replayCaptured(trace('speed.pcap', packets), { speed: 2 }, 'speed');
    expect(result).toMatchObject({ sent: 40, reason: 'end' });
    expect(arrived).toHaveLength(40);
    // The schedule never sends early: each offset from the first is at least the trace's, halved.
    for (let i = 1; i < arrived.length; i++) {
      expect(arrived[i].timestamp - arrived[0].timestamp).toBeGreaterThanOrEqual((packets[i].timestamp - packets[0].timestamp) / 2n - 50_000n);
    }
  });

  test('pps and mbps pace from the running totals, never ahead of them', async () => {
    const packets = frames(30, 1n);
    const pps = await replayCaptured(trace('pps.pcap', packets), { pps: 500 }, 'pps');
    expect(pps.result).toMatchObject({ sent: 30 });
    const ppsSpan = pps.arrived[29].timestamp - pps.arrived[0].timestamp;
    expect(ppsSpan).toBeGreaterThanOrEqual(29n * 2_000_000n - 50_000n); // 29 gaps of 2 ms
    const bits = packets.slice(0, 29).reduce((n, p) => n + p.data.length * 8, 0);
    const mbps = await replayCaptured(trace('mbps.pcap', packets), { mbps: 2 }, 'mbps');
    expect(mbps.result).toMatchObject({ sent: 30 });
    expect(Number(mbps.arrived[29].timestamp - mbps.arrived[0].timestamp)).toBeGreaterThanOrEqual((bits / 2e6) * 1e9 - 50_000);
  });

  test('a paced replay runs its thread in the real-time class (SCHED_FIFO, as the kernel reports it); realtime: false and top speed do not', async () => {
    // The scheduling policy of each "wirecap replay" thread of this process (/proc's stat field 41: 0 normal, 1 FIFO).
    const policies = (): number[] =>
      fs.readdirSync('/proc/self/task').flatMap((tid) => {
        try {
          if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'wirecap replay') return [];
          const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38])];
        } catch {
          return []; // the thread ended meanwhile
        }
      });
    const file = trace('realtime.pcap', frames(20, 40_000_000n));
    for (const [options, policy] of [
      [{ speed: 1 }, 1],
      [{ speed: 1, realtime: false }, 0],
    ] as const) {
      const r = replay(file, device, options);
      // Mid-replay: its first frame is out, 19 more are due over 760 ms.
      await waitFor(() => r.stats().sent > 0, 10000, 'the first frame sent');
      expect(policies()).toEqual([policy]);
      expect(r.stats().realtime).toBe(policy === 1);
      expect(await r.done).toMatchObject({ sent: 20, realtime: policy === 1 });
    }
    expect(await replay(file, device, { topspeed: true }).done).toMatchObject({ sent: 20, realtime: false });
    expect(() => replay(file, device, { speed: 1, realtime: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('loop 3 sends the file three times over, each pass in order', async () => {
    const { result, arrived } = await replayCaptured(trace('loop.pcap', frames(50, 10_000n)), { loop: 3, speed: 10 }, 'loop');
    expect(result).toMatchObject({ sent: 150, taken: 150 });
    expect(arrived.map((p) => indexOf(p.hex))).toEqual([0, 1, 2].flatMap(() => Array.from({ length: 50 }, (_, i) => i)));
  });

  test('maxPackets, durationMs and a filter end or thin the replay, and count what they left', async () => {
    const file = trace('limits.pcap', frames(300, 1_000_000n));
    const max = await replayCaptured(file, { topspeed: true, maxPackets: 120 }, 'max');
    expect(max.result).toMatchObject({ sent: 120, reason: 'maxPackets' });
    expect(max.arrived).toHaveLength(120);
    expectAccounted(max.result!);

    const timed = await replayCaptured(file, { durationMs: 100 }, 'duration');
    expect(timed.result!.reason).toBe('duration');
    expect(timed.result!.sent).toBeGreaterThan(0);
    expect(timed.result!.sent).toBeLessThanOrEqual(101);
    expect(timed.arrived).toHaveLength(timed.result!.sent);
    expectAccounted(timed.result!);

    const filtered = await replayCaptured(file, { topspeed: true, filter: 'len <= 700' }, 'filter');
    const wanted = referenceRead(file).packets.filter((p) => p.caplen <= 700);
    expect(filtered.result).toMatchObject({ sent: wanted.length, filtered: 300 - wanted.length });
    expect(filtered.arrived.map((p) => p.hex)).toEqual(wanted.map((p) => p.hex));
  });

  test('a window of a file (start, end) replays only its packets', async () => {
    const packets = frames(100, 1_000_000n);
    const { result, arrived } = await replayCaptured(trace('window.pcap', packets), { topspeed: true, start: packets[20].timestamp, end: packets[60].timestamp }, 'window');
    expect(result).toMatchObject({ sent: 40 });
    expect(arrived.map((p) => indexOf(p.hex))).toEqual(Array.from({ length: 40 }, (_, i) => 20 + i));
  });

  test('an openOffline() capture, an array of packets and an async iterable of batches replay the same frames', async () => {
    const file = trace('sources.pcap', frames(120, 100_000n));
    const expected = referenceRead(file).packets.map((p) => p.hex);
    const fromFile = await replayCaptured(openOffline(file), { topspeed: true }, 'capture');
    expect(fromFile.arrived.map((p) => p.hex)).toEqual(expected);
    const packets = [];
    for await (const p of openOffline(file)) packets.push({ timestamp: p.timestamp, data: Buffer.from(p.data) });
    const fromArray = await replayCaptured(packets, { topspeed: true }, 'array');
    expect(fromArray.arrived.map((p) => p.hex)).toEqual(expected);
    const fromBatches = await replayCaptured(openOffline(file).batches(), { topspeed: true }, 'batches');
    expect(fromBatches.arrived.map((p) => p.hex)).toEqual(expected);
  });

  test('a JetStream consumer replays what was published, in stream order, up to maxPackets', async () => {
    const nats = await startNats(1);
    try {
      const file = trace('jetstream.pcap', frames(150, 100_000n));
      await createStream(nats.urls, 'REPLAY', ['replay.>']);
      await publishPackets(openOffline(file), { servers: nats.urls, subject: 'replay.a', sensor: 'a', batchPackets: 40 }).done;
      const consumer = consumePackets({ servers: nats.urls, stream: 'REPLAY', durable: 'replayer' });
      const { result, arrived } = await replayCaptured(consumer, { topspeed: true, maxPackets: 150 }, 'jetstream');
      await consumer.close();
      expect(result).toMatchObject({ sent: 150, reason: 'maxPackets' });
      expect(arrived.map((p) => p.hex)).toEqual(referenceRead(file).packets.map((p) => p.hex));
    } finally {
      await nats.stop();
    }
  });

  test('a worker terminated mid-replay ends its replay thread, and the process goes on', async () => {
    const file = trace('worker.pcap', frames(1000, 1n));
    const child = await runNode(`
      const { Worker } = require('node:worker_threads');
      const threads = () => require('node:fs').readdirSync('/proc/self/task').length;
      const before = threads();
      const w = new Worker(\`
        const wirecap = require(\${JSON.stringify(require.resolve('${path.join(__dirname, '..')}'))});
        wirecap.replay(${JSON.stringify(file)}, ${JSON.stringify(device)}, { pps: 100 });
        require('node:worker_threads').parentPort.postMessage('started');\`, { eval: true });
      w.once('message', () => setTimeout(() => w.terminate().then(() => setTimeout(() => console.log(JSON.stringify({ before, after: threads() })), 200)), 200));`);
    const { before, after } = JSON.parse(child.stdout.trim());
    expect(after).toBeLessThanOrEqual(before);
  });

  test('aborting stops the replay: done rejects with an AbortError and every packet is counted', async () => {
    const controller = new AbortController();
    const r = replay(trace('abort.pcap', frames(200, 10_000_000n)), device, { signal: controller.signal });
    setTimeout(() => controller.abort('enough'), 150);
    await expect(r.done).rejects.toBeInstanceOf(AbortError);
    const s = r.stats();
    expect(s.sent).toBeGreaterThan(0);
    expect(s.sent).toBeLessThan(200);
    expectAccounted({ ...s, mode: 'inject', reason: 'stopped' });
  });
});

describeLive('replay through WinPcap send queues (a libpcap with pcap_sendqueue_*, as Npcap has)', () => {
  const run = async (file: string, options: object): Promise<Record<string, unknown>> => {
    const child = await runNode(
      `wirecap.replay(${JSON.stringify(file)}, ${JSON.stringify(device)}, ${JSON.stringify(options)}).done.then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`,
      { env: { WIRECAP_LIBPCAP: sendQueueShim(dir) } },
    );
    return JSON.parse(child.stdout.trim().split('\n').pop() ?? '');
  };

  test("paced: mode 'sendqueue', the frames arrive byte for byte, none before its time, a long pause slept between queues", async () => {
    // 20 frames 2 ms apart, a 300 ms pause, 20 more: two queues.
    const packets = [...frames(20, 2_000_000n), ...frames(20, 2_000_000n, 1_700_000_000_340_000_000n).map((p, i) => ({ ...p, data: frame(20 + i, 100) }))];
    const file = trace('sendqueue.pcap', packets);
    const out = path.join(dir, 'sendqueue.peer.pcap');
    const peer = await capturePeer(ns, device, out, FRAME_FILTER);
    const result = await run(file, { speed: 1 });
    await peer.stop(Number(result.sent));
    expect(result).toMatchObject({ mode: 'sendqueue', sent: 40, failed: 0, reason: 'end', taken: 40 });
    const arrived = referenceRead(out).packets;
    expect(arrived.map((p) => p.hex)).toEqual(referenceRead(file).packets.map((p) => p.hex));
    for (let i = 1; i < arrived.length; i++) {
      expect(arrived[i].timestamp - arrived[0].timestamp).toBeGreaterThanOrEqual(packets[i].timestamp - packets[0].timestamp - 1_000_000n);
    }
  });

  test('top speed and maxPackets: the queue is cut at the limit and the rest counted unsent', async () => {
    const file = trace('sendqueue-top.pcap', frames(300, 1000n));
    const out = path.join(dir, 'sendqueue-top.peer.pcap');
    const peer = await capturePeer(ns, device, out, FRAME_FILTER);
    const result = await run(file, { topspeed: true, maxPackets: 250 });
    await peer.stop(Number(result.sent));
    expect(result).toMatchObject({ mode: 'sendqueue', sent: 250, unsent: 50, taken: 300, reason: 'maxPackets' });
    expect(referenceRead(out).packets.map((p) => indexOf(p.hex))).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });
});

describeLive('wirecap replay', () => {
  test('replays files in turn, looped and filtered, and ends with the Actual/Rated summary', async () => {
    const a = trace('cli-a.pcap', frames(40, 10_000n));
    const b = trace('cli-b.pcap', frames(30, 10_000n, 1_800_000_000_000_000_000n));
    const wanted = [a, b].flatMap((f) => referenceRead(f).packets.filter((p) => p.caplen <= 700));
    const out = path.join(dir, 'cli.peer.pcap');
    const peer = await capturePeer(ns, device, out, FRAME_FILTER);
    const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
    const run = spawnSync(process.execPath, [cli, 'replay', a, b, '-i', device, '--speed', '20', '--loop', '2', 'len', '<=', '700'], { encoding: 'utf8', timeout: 20000 });
    await peer.stop(Number(/^Actual: (\d+) packets/.exec(run.stdout)?.[1] ?? 0));
    expect(run.status).toBe(0);
    const n = wanted.length * 2;
    expect(run.stdout).toMatch(new RegExp(`^Actual: ${n} packets \\(\\d+ bytes\\) sent in [\\d.]+ seconds\nRated: [\\d.]+ Bps, [\\d.]+ Mbps, [\\d.]+ pps\n0 failed, 0 over the MTU, ${140 - n} filtered out, 0 unsent;.*ended: end; mode: inject`));
    expect(referenceRead(out).packets.map((p) => p.hex)).toEqual([...wanted, ...wanted].map((p) => p.hex));
  });

  test('a device that is not there exits 1 naming it', () => {
    const file = trace('cli-bad.pcap', frames(2, 1n));
    const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli', 'main.js'), 'replay', file, '-i', 'wirecap-no-such', '--topspeed'], { encoding: 'utf8', timeout: 20000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no such device: wirecap-no-such');
  });
});

describeLive('replay refuses or reports bad input', () => {
  test('a link type the device does not carry is refused unless forced', async () => {
    const file = trace('sll.pcap', frames(5, 1000n), { linktype: 113 });
    let thrown: unknown;
    try {
      replay(file, device);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(WirecapError);
    expect(thrown).toMatchObject({ code: 'EINVAL' });
    expect((thrown as Error).message).toMatch(/EN10MB.*113.*force: true/);
    const forced = await replay(file, device, { force: true, topspeed: true }).done;
    expect(forced).toMatchObject({ sent: 5 });
  });

  test('frames over the MTU are skipped and counted, or end the replay with EMSGSIZE and the counts', async () => {
    const packets = frames(10, 1000n);
    packets[4] = { timestamp: packets[4].timestamp, data: frame(4, 1600) };
    const file = trace('oversize.pcap', packets);
    const skipped = await replayCaptured(file, { topspeed: true }, 'oversize');
    expect(skipped.result).toMatchObject({ sent: 9, oversize: 1, taken: 10 });
    expect(skipped.arrived.map((p) => indexOf(p.hex))).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    const r = replay(file, device, { topspeed: true, oversize: 'error' });
    await expect(r.done).rejects.toMatchObject({ code: 'EMSGSIZE', message: expect.stringMatching(/1600-byte frame.*MTU 1500.*after 4 packets sent/) });
    expect(r.stats()).toMatchObject({ sent: 4, oversize: 1, unsent: 5, taken: 10 });
  });

  test('a file that ends inside a record: every whole packet is sent, then ETRUNCATED with the counts', async () => {
    const whole = pcapBytes(frames(30, 1000n), { nano: true });
    const file = path.join(dir, 'truncated.pcap');
    fs.writeFileSync(file, whole.subarray(0, whole.length - 20));
    const { error, arrived } = await replayCaptured(file, { topspeed: true }, 'truncated');
    expect(error).toMatchObject({ code: 'ETRUNCATED', message: expect.stringContaining('after 29 packets') });
    expect(arrived).toHaveLength(29);
  });

  test('the device going away mid-replay ends it with ENETDOWN and the counts so far', async () => {
    const gone = makeNetns(1, 'rg', 1);
    try {
      // 4 s of frames at 1000 a second; the device goes once more than 10 are out.
      const r = replay(trace('netdown.pcap', frames(4000, 1n)), gone.pairs[0].device, { pps: 1000 });
      await waitFor(() => r.stats().sent > 10, 10000, 'more than 10 frames sent');
      gone.removePair(gone.pairs[0]);
      await expect(r.done).rejects.toMatchObject({ code: 'ENETDOWN', message: expect.stringMatching(/packets \(\d+ bytes\) sent/) });
      const s = r.stats();
      expect(s.sent).toBeGreaterThan(10);
      expect(s.sent).toBeLessThan(4000);
      expect(s.failed).toBe(1);
      expectAccounted({ ...s, mode: 'inject', reason: 'end' });
    } finally {
      gone.remove();
    }
  });

  test('no permission gives EPERM naming the fix', async () => {
    const file = trace('eperm.pcap', frames(3, 1000n));
    const result = await runNode(
      `try { wirecap.replay(${JSON.stringify(file)}, ${JSON.stringify(device)}); console.log('opened'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
      { wrapper: ['setpriv', '--bounding-set=-net_raw,-net_admin'] },
    );
    const error = JSON.parse(result.stdout);
    expect(error.code).toBe('EPERM');
    expect(error.message).toContain(`no permission to send on ${device}`);
    expect(error.message).toContain('setcap cap_net_raw,cap_net_admin+eip');
  });

  test('bad options are EINVAL naming them', () => {
    const file = trace('options.pcap', frames(1, 1n));
    expect(() => replay(file, device, { speed: 2, pps: 10 })).toThrow(/one of speed, pps, mbps and topspeed/);
    expect(() => replay(file, device, { speed: 0 })).toThrow(/speed must be a positive number/);
    expect(() => replay([{ timestamp: 0n, data: Buffer.alloc(60) }], device, { loop: 2 })).toThrow(/loop, start and end need capture files/);
    expect(() => replay(file, device, { oversize: 'drop' as never })).toThrow(/oversize must be one of/);
    expect(() => replay(file, 'wirecap-no-such-device')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});
