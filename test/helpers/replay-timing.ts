/**
 * Replay timing beside tcpreplay (test/replay.timing.test.ts and
 * bench/replay.js --timing): a 10 s trace of mixed gaps, one tool's run
 * onto a veth pair with a tcpdump on the far end timestamping every frame
 * in nanoseconds, and the gap and duration errors of what arrived.
 *
 * Both tools' p99 sits on a floor that the peer's capture path adds, and
 * that floor moves from run to run on a shared machine. So each tool runs
 * twice, each run's gaps are cut into halves (first and second 5 s), and
 * how far a tool's four halves put a percentile apart (its spread, the
 * larger of the two tools') is the noise a comparison is judged against,
 * measured in the same run rather than assumed. Four halves rather than
 * two runs: the range of two samples is tiny often enough that, if each
 * run's p99 scattered normally, a tool no worse than the other would fail
 * about one comparison in ten (one in 200 with four halves).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FRAME_FILTER, frame, indexOf } from './frames';
import { Netns } from './netns';
import { capturePeer } from './peer';
import { pcapBytes, random, referenceRead, TracePacket } from './trace';
import { waitForQuiet } from './quiet';

export const TRACE_NS = 10_000_000_000n;
export type Tool = 'tcpreplay' | 'wirecap';
/** Two runs of each, the order alternating so neither gets the quieter end. */
export const ORDER: Tool[] = ['tcpreplay', 'wirecap', 'wirecap', 'tcpreplay'];

/** Bursts of 1–20 frames 2–50 µs apart, separated by pauses of 0.1–100 ms, and two of 1–1.5 s. */
export function mixedTrace(seed: number): TracePacket[] {
  const next = random(seed);
  const start = 1_700_000_000_000_000_000n;
  const packets: TracePacket[] = [];
  let t = start;
  const long = [start + 3_000_000_000n, start + 7_000_000_000n];
  while (t - start < TRACE_NS) {
    const burst = 1 + Math.floor(next() * 20);
    for (let k = 0; k < burst; k++) {
      packets.push({ timestamp: t, data: frame(packets.length, 60 + Math.floor(next() * 1400)) });
      t += BigInt(2000 + Math.floor(next() * 48000));
    }
    if (long.length > 0 && t >= long[0]) {
      long.shift();
      t += BigInt(1_000_000_000 + Math.floor(next() * 500_000_000));
    } else {
      t += BigInt(100_000 + Math.floor(next() * (next() < 0.7 ? 2_000_000 : 100_000_000)));
    }
  }
  packets.push({ timestamp: start + TRACE_NS, data: frame(packets.length, 60) });
  return packets;
}

/** Writes the trace as a nanosecond pcap. */
export function writeMixedTrace(file: string, seed: number): TracePacket[] {
  const packets = mixedTrace(seed);
  fs.writeFileSync(file, pcapBytes(packets, { nano: true }));
  return packets;
}

export interface Run {
  tool: Tool;
  arrived: number;
  durationError: number; // relative
  gapErrorsNs: number[];
  cpuNs: number;
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Gap errors and duration error of what arrived, matched to the trace by each frame's index. */
export function measure(tool: Tool, sent: TracePacket[], file: string, cpuNs: number): Run {
  const arrived = referenceRead(file).packets;
  const at = new Map(arrived.map((p) => [indexOf(p.hex), p.timestamp]));
  const gapErrorsNs: number[] = [];
  for (let i = 1; i < sent.length; i++) {
    const a = at.get(i - 1);
    const b = at.get(i);
    if (a !== undefined && b !== undefined) gapErrorsNs.push(Math.abs(Number(b - a - (sent[i].timestamp - sent[i - 1].timestamp))));
  }
  const span = Number(sent[sent.length - 1].timestamp - sent[0].timestamp);
  const got = Number((at.get(sent.length - 1) ?? 0n) - (at.get(0) ?? 0n));
  return { tool, arrived: arrived.length, durationError: (got - span) / span, gapErrorsNs, cpuNs };
}

/** tcpreplay at its default timing; the CPU it used (bash `times`: the child's user + system). */
export function tcpreplayRun(device: string, file: string): number {
  const child = spawnSync('bash', ['-c', 'tcpreplay -q -i "$1" "$2" >/dev/null 2>&1 || exit 1; times', 'bash', device, file], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`tcpreplay failed: ${child.stderr}`);
  const [user, system] = child.stdout
    .trim()
    .split('\n')
    .pop()!
    .split(/\s+/)
    .map((t) => {
      const m = /(\d+)m([\d.]+)s/.exec(t)!;
      return Number(m[1]) * 60 + Number(m[2]);
    });
  return (user + system) * 1e9;
}

/**
 * One run of tool after a quieter moment (up to 5 s), captured on the
 * peer. wirecap is the caller's: it replays file onto device and returns
 * the replay thread's CPU time.
 */
export async function timedRun(tool: Tool, ns: Netns, device: string, file: string, sent: TracePacket[], out: string, wirecap: () => Promise<number>): Promise<Run> {
  await waitForQuiet();
  const peer = await capturePeer(ns, device, out, FRAME_FILTER);
  let cpuNs: number;
  try {
    cpuNs = tool === 'wirecap' ? await wirecap() : tcpreplayRun(device, file);
  } finally {
    await peer.stop(sent.length);
  }
  return measure(tool, sent, out, cpuNs);
}

export interface ToolFigures {
  arrived: number[];
  durationErrorPct: number[];
  /** Over the tool's runs pooled, in µs. */
  p50us: number;
  p99us: number;
  /** Each run's own, in µs. */
  runP50us: number[];
  runP99us: number[];
  /** Each run's halves' (first and second half of its gaps), in µs. */
  halfP50us: number[];
  halfP99us: number[];
  cpuMs: number[];
}

const us = (ns: number): number => +(ns / 1000).toFixed(2);

function halves(values: number[]): number[][] {
  const mid = values.length >> 1;
  return [values.slice(0, mid), values.slice(mid)];
}

export function figures(runs: Run[], tool: Tool): ToolFigures {
  const mine = runs.filter((r) => r.tool === tool);
  const gaps = mine.flatMap((r) => r.gapErrorsNs);
  const parts = mine.flatMap((r) => halves(r.gapErrorsNs));
  return {
    arrived: mine.map((r) => r.arrived),
    durationErrorPct: mine.map((r) => +(r.durationError * 100).toFixed(4)),
    p50us: us(percentile(gaps, 0.5)),
    p99us: us(percentile(gaps, 0.99)),
    runP50us: mine.map((r) => us(percentile(r.gapErrorsNs, 0.5))),
    runP99us: mine.map((r) => us(percentile(r.gapErrorsNs, 0.99))),
    halfP50us: parts.map((g) => us(percentile(g, 0.5))),
    halfP99us: parts.map((g) => us(percentile(g, 0.99))),
    cpuMs: mine.map((r) => Math.round(r.cpuNs / 1e6)),
  };
}

/** The noise of a percentile in this run: the widest spread between one tool's own half-runs, over both tools, in µs. */
export function spread(a: ToolFigures, b: ToolFigures, key: 'halfP50us' | 'halfP99us'): number {
  const width = (values: number[]): number => Math.max(...values) - Math.min(...values);
  return +Math.max(width(a[key]), width(b[key])).toFixed(2);
}

/** Where a run's peer capture goes. */
export function runFile(dir: string, tool: Tool, index: number): string {
  return path.join(dir, `${tool}-${index}.pcap`);
}
