// Timing beside tcpreplay, on the same 10 s trace of mixed gaps (bursts
// microseconds apart, pauses up to seconds), in the same run, on a veth
// pair: a tcpdump on the far end timestamps every frame in nanoseconds.
// Runs alternate (tcpreplay, wirecap, wirecap, tcpreplay), each after a
// quieter moment when there is one; the gap errors of each tool's runs are
// pooled before taking percentiles, so one noisy second does not decide.
// Each percentile is compared within the noise measured in this same run:
// how far apart one tool's own half-runs (two runs, each cut in two) put
// it, the larger of the two tools' spreads (a fixed tolerance would say
// nothing on a machine whose load moves the capture path's floor). The figures and the spreads are
// printed; the closing note and bench/RESULTS.md have them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replay } from '../lib';
import { describeLive } from './helpers/live';
import { makeNetns, Netns } from './helpers/netns';
import { figures, median, ORDER, Run, runFile, spread, timedRun, writeMixedTrace } from './helpers/replay-timing';

let dir: string;
let ns: Netns;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-replay-timing-'));
  ns = makeNetns(1, 'rt', 2);
});
afterAll(() => {
  ns?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

describeLive('replay timing beside tcpreplay', () => {
  test("at speed 1 a 10 s trace keeps its duration within 0.1 %; its p50 and p99 gap errors are no worse than tcpreplay's beyond the spread between each tool's own half-runs", async () => {
    const device = ns.pairs[0].device;
    const file = path.join(dir, 'mixed.pcap');
    const packets = writeMixedTrace(file, 27);
    const runs: Run[] = [];
    for (const tool of ORDER) {
      const run = await timedRun(tool, ns, device, file, packets, runFile(dir, tool, runs.length), async () => {
        const result = await replay(file, device).done;
        expect(result).toMatchObject({ sent: packets.length, reason: 'end' });
        return result.cpuNs;
      });
      runs.push(run);
    }
    const wirecap = figures(runs, 'wirecap');
    const tcpreplay = figures(runs, 'tcpreplay');
    const noise = { p50us: spread(wirecap, tcpreplay, 'halfP50us'), p99us: spread(wirecap, tcpreplay, 'halfP99us') };
    process.stdout.write(`replay timing (${packets.length} packets, 10 s, load ${os.loadavg()[0].toFixed(1)}): ${JSON.stringify({ wirecap, tcpreplay, spread: noise })}\n`);
    expect(wirecap.arrived).toEqual([packets.length, packets.length]);
    expect(Math.abs(median(wirecap.durationErrorPct))).toBeLessThanOrEqual(0.1);
    expect(wirecap.p50us).toBeLessThanOrEqual(tcpreplay.p50us + noise.p50us);
    expect(wirecap.p99us).toBeLessThanOrEqual(tcpreplay.p99us + noise.p99us);
  }, 180_000);
});
