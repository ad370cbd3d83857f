/**
 * `wirecap replay`: capture files put back on the wire, paced as recorded
 * (scaled by --speed), at a fixed rate, or as fast as the device takes them,
 * with a progress line and tcpreplay's kind of summary.
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { replay, ReplayOptions, ReplayStats } from '../replay/replay';
import { MetricsFlag, listenMetrics, metricsOption, replaySource } from './metrics-option';
import { Io, closeOnSignals, integer, progressLine } from './output';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number is expected');
  return n;
}

function count(value: string): number {
  if (value === '0') return 0;
  return integer(value);
}

/** "Actual" and "Rated" lines as tcpreplay prints them, then wirecap's counters. */
export function replaySummary(s: ReplayStats, ending: string): string {
  const seconds = s.elapsedNs / 1e9;
  const per = (n: number): string => (seconds > 0 ? (n / seconds).toFixed(1) : '0');
  return [
    `Actual: ${s.sent} packets (${s.bytes} bytes) sent in ${seconds.toFixed(6)} seconds`,
    `Rated: ${per(s.bytes)} Bps, ${seconds > 0 ? ((s.bytes * 8) / seconds / 1e6).toFixed(2) : '0'} Mbps, ${per(s.sent)} pps`,
    `${s.failed} failed, ${s.oversize} over the MTU, ${s.filtered} filtered out, ${s.unsent} unsent; ${s.late} late (worst ${(s.worstLateNs / 1e6).toFixed(3)} ms); CPU ${(s.cpuNs / 1e6).toFixed(0)} ms${s.realtime ? ' (real-time thread)' : ''}; ${ending}`,
  ].join('\n');
}

export function registerReplay(cli: Command, { out, err }: Io): void {
  metricsOption(cli.command('replay'))
    .description('send capture files onto a device at their own pace (scaled by --speed), at a fixed rate, or as fast as it takes them')
    .argument('<files...>', 'pcap or pcapng files, played one after the other; words after them are a BPF filter')
    .requiredOption('-i, --interface <name>', 'the device to send on')
    .option('--speed <x>', 'the original timing, x times faster (default 1)', positiveNumber)
    .option('--pps <n>', 'a fixed rate in packets per second', positiveNumber)
    .option('--mbps <m>', 'a fixed rate in megabits per second', positiveNumber)
    .option('--topspeed', 'as fast as the device takes them')
    .option('--loop <n>', 'play the files n times (0: until interrupted)', count)
    .option('-c, --count <n>', 'stop after n packets sent', integer)
    .option('--duration <s>', 'stop after s seconds', positiveNumber)
    .option('--force', "send packets whose link type is not the device's")
    .option('--oversize-error', 'end with an error at a frame longer than the MTU allows (default: skip and count it)')
    .action(async (args: string[], o: MetricsFlag & { interface: string; speed?: number; pps?: number; mbps?: number; topspeed?: boolean; loop?: number; count?: number; duration?: number; force?: boolean; oversizeError?: boolean }) => {
      // Files first, then filter words: the files are the leading arguments that exist.
      let split = 0;
      while (split < args.length && fs.existsSync(args[split])) split++;
      if (split === 0) cli.error(`error: no such file: ${args[0]}`, { exitCode: 2 });
      const options: ReplayOptions = {
        speed: o.speed,
        pps: o.pps,
        mbps: o.mbps,
        topspeed: o.topspeed,
        loop: o.loop,
        maxPackets: o.count,
        durationMs: o.duration === undefined ? undefined : Math.round(o.duration * 1000),
        filter: args.slice(split).join(' '),
        force: o.force,
        oversize: o.oversizeError ? 'error' : 'skip',
      };
      const metrics = await listenMetrics(o.metrics, err);
      const r = replay(args.slice(0, split), o.interface, JSON.parse(JSON.stringify(options)) as ReplayOptions);
      metrics.watch(replaySource(r));
      const release = closeOnSignals(() => r.stop());
      const progress = progressLine(out, '{sent} packets | {bytes} bytes | {rate} pkt/s | {late} late', () => {
        const { sent, bytes, late } = r.stats();
        return { sent, bytes, late };
      }, 'sent');
      try {
        const result = await r.done;
        progress.stop();
        out.write(`${replaySummary(result, `ended: ${result.reason}; mode: ${result.mode}`)}\n`);
      } catch (error) {
        progress.stop();
        out.write(`${replaySummary(r.stats(), `mode: ${r.mode}`)}\n`);
        throw error;
      } finally {
        release();
        await metrics.close();
      }
    });
}
