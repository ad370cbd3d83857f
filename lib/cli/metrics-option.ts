/** --metrics [host]:port on the long-running commands: one option line and one call each. */
import { Command } from 'commander';
import type { NativeStats } from '../core/binding';
import type { Dumper } from '../dump/dumper';
import type { PacketCollector } from '../nats/collect';
import type { Replay } from '../replay/replay';
import { createMetrics, CounterValues, MetricsLabels } from '../metrics/metrics';
import { listenAddress } from './output';

/** What --metrics gives the action. */
export interface MetricsFlag {
  metrics?: { host: string; port: number };
}

/** Adds --metrics to a command. */
export function metricsOption(command: Command): Command {
  return command.option('--metrics <[host]:port>', 'serve Prometheus metrics at http://host:port/metrics (:port listens on every address)', listenAddress);
}

/** A command's metrics: its sources, served while it runs. */
export interface CommandMetrics {
  watch(...sources: MetricsSource[]): void;
  close(): Promise<void>;
}

/**
 * Listens for scrapes before the command starts anything, so a port in use
 * fails it at once (EINVAL naming the address); says where on err. Without
 * --metrics, watch() and close() do nothing.
 */
export async function listenMetrics(where: { host: string; port: number } | undefined, err: NodeJS.WritableStream): Promise<CommandMetrics> {
  if (where === undefined) return { watch() {}, close: async () => {} };
  const metrics = createMetrics();
  const server = await metrics.serve(where.port, where.host);
  server.unref(); // the command's own work keeps the process alive, and its failure ends it
  err.write(`metrics on http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${server.port}/metrics\n`);
  return {
    watch: (...sources) => sources.forEach(([labels, read]) => metrics.watch(labels, read)),
    close: () => server.close(),
  };
}

export type MetricsSource = [MetricsLabels, () => CounterValues];

/** A capture's counters, labelled with its device. */
export function captureSource(capture: { device: string; stats(): NativeStats }, sensor?: string): MetricsSource {
  return [{ device: capture.device, ...(sensor === undefined ? {} : { sensor }) }, () => captureCounters(capture.stats())];
}

/** A dump's: each device's capture, and the files (labelled with every device). */
export function dumpSources(dump: Dumper): MetricsSource[] {
  const devices = dump.devices();
  return [
    ...devices.map((d, i) => captureSource({ device: d.device, stats: () => dump.devices()[i].stats })),
    [{ device: devices.map((d) => d.device).join(',') }, () => ({ written: dump.stats().packets, bytes: dump.stats().bytes, files: dump.stats().files })],
  ];
}

/** A publisher's or an exporter's: what it had acknowledged and what it gave up. */
export function senderSource(labels: MetricsLabels, sender: { stats(): { sent: number; dropped: number; reconnects: number; messages?: number; retries?: number } }): MetricsSource {
  return [
    labels,
    () => {
      const s = sender.stats();
      return { sent: s.sent, dropped: s.dropped, reconnects: s.reconnects, ...(s.messages === undefined ? {} : { messages: s.messages, acks: s.messages }), ...(s.retries === undefined ? {} : { retries: s.retries }) };
    },
  ];
}

/** A JetStream collector's (consume, exactly once). */
export function collectorSource(collector: PacketCollector): MetricsSource {
  return [
    {},
    () => {
      const s = collector.stats();
      return { written: s.packets, messages: s.messages, acks: s.messages, files: s.files, rejected: s.rejected, redeliveries: s.duplicates, claimsLost: s.claimsLost };
    },
  ];
}

/** A replay's, labelled with its device. */
export function replaySource(r: Replay): MetricsSource {
  return [
    { device: r.device },
    () => {
      const s = r.stats();
      return {
        replayTaken: s.taken,
        replaySent: s.sent,
        replayBytes: s.bytes,
        replayFailed: s.failed,
        replayOversize: s.oversize,
        replayFiltered: s.filtered,
        replayUnsent: s.unsent,
        replayLate: s.late,
      };
    },
  ];
}

function captureCounters(stats: NativeStats): CounterValues {
  return {
    captured: stats.captured,
    consumerDropped: stats.consumerDropped,
    ...(stats.dropped === null ? {} : { kernelDropped: stats.dropped }),
    ...(stats.ifDropped === null ? {} : { interfaceDropped: stats.ifDropped }),
  };
}
