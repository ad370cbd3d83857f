/**
 * Prometheus metrics: the counters wirecap already keeps (captures, dumps,
 * publishers, consumers, streams, replays), read at scrape time into a prom-client
 * registry. Use the registry with your own server, or serve() it.
 *
 * A source is a function returning some of COUNTERS' keys, with its
 * labels (device, sensor). Its values are totals since it started; they
 * are read at each scrape, never pushed, so watching costs nothing
 * between scrapes.
 */
import http from 'node:http';
import type * as PromClient from 'prom-client';
import { WirecapError } from '../core/errors';
import { checkInteger, checkString } from '../core/validate';

/** What a source may report, and the counter each becomes. */
export const COUNTERS = {
  captured: ['wirecap_captured_packets_total', 'Packets the capture thread took from libpcap'],
  kernelDropped: ['wirecap_kernel_dropped_packets_total', "Packets the kernel dropped for lack of buffer space (pcap_stats' ps_drop)"],
  interfaceDropped: ['wirecap_interface_dropped_packets_total', "Packets the interface or driver dropped (pcap_stats' ps_ifdrop)"],
  consumerDropped: ['wirecap_consumer_dropped_packets_total', "Packets dropped because wirecap's queue to its consumer was full"],
  written: ['wirecap_written_packets_total', 'Packets written to capture files'],
  bytes: ['wirecap_written_bytes_total', 'Bytes written to capture files, headers included'],
  files: ['wirecap_files_total', 'Capture files started'],
  sent: ['wirecap_sent_packets_total', 'Packets a publisher or exporter had acknowledged'],
  dropped: ['wirecap_dropped_packets_total', 'Packets a publisher or exporter gave up'],
  messages: ['wirecap_messages_total', 'Messages published (acknowledged) or consumed'],
  acks: ['wirecap_acks_total', 'Messages acknowledged to JetStream'],
  retries: ['wirecap_retries_total', 'Publishes tried again'],
  redeliveries: ['wirecap_redeliveries_total', 'Messages delivered again that were already written (skipped)'],
  rejected: ['wirecap_rejected_messages_total', "Messages terminated because they were not wirecap's framing"],
  claimsLost: ['wirecap_claims_lost_total', 'Messages another collector claimed first'],
  reconnects: ['wirecap_reconnects_total', 'Reconnections to a server or collector'],
  received: ['wirecap_received_packets_total', 'Packets a gRPC collector received in streams that ended'],
  streams: ['wirecap_streams_total', 'Streams a gRPC collector saw end'],
  replayTaken: ['wirecap_replay_taken_packets_total', 'Packets a replay took from its source'],
  replaySent: ['wirecap_replay_sent_packets_total', 'Packets a replay sent on its device'],
  replayBytes: ['wirecap_replay_sent_bytes_total', 'Frame bytes a replay sent'],
  replayFailed: ['wirecap_replay_failed_packets_total', 'Packets the device refused to send'],
  replayOversize: ["wirecap_replay_oversize_packets_total", "Frames longer than the device's MTU allows, not sent"],
  replayFiltered: ['wirecap_replay_filtered_packets_total', "Packets the replay's filter did not match"],
  replayUnsent: ['wirecap_replay_unsent_packets_total', 'Packets taken but not sent because the replay ended first'],
  replayLate: ['wirecap_replay_late_packets_total', 'Packets sent later than the late threshold after their time'],
} as const;

export type CounterName = keyof typeof COUNTERS;
export type CounterValues = Partial<Record<CounterName, number>>;
export interface MetricsLabels {
  device?: string;
  sensor?: string;
}

const LABELS = ['device', 'sensor'] as const;

let promClient: typeof PromClient | null = null;
/** prom-client, loaded only by code that uses metrics. */
function prom(): typeof PromClient {
  promClient ??= require('prom-client') as typeof PromClient;
  return promClient;
}

interface Source {
  labels: MetricsLabels;
  read: () => CounterValues;
}

/** A set of sources and the registry their counters are in. */
export class WirecapMetrics {
  /** The prom-client registry: registry.metrics() is the text exposition, registry.contentType its type. */
  readonly registry: PromClient.Registry;
  #sources = new Set<Source>();

  /** @internal use createMetrics() */
  constructor(registry: PromClient.Registry) {
    this.registry = registry;
    const sources = this.#sources;
    for (const [key, [name, help]] of Object.entries(COUNTERS)) {
      new (prom().Counter)({
        name,
        help,
        labelNames: LABELS,
        registers: [registry],
        collect(this: PromClient.Counter<(typeof LABELS)[number]>) {
          this.reset();
          for (const source of sources) {
            const value = source.read()[key as CounterName];
            if (value !== undefined) this.inc(labelsOf(source.labels), value);
          }
        },
      });
    }
  }

  /** Adds a source; returns a function that removes it (its counters then leave the exposition). */
  watch(labels: MetricsLabels, read: () => CounterValues): () => void {
    const source = { labels: { ...labels }, read };
    this.#sources.add(source);
    return () => this.#sources.delete(source);
  }

  /** The text exposition now. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Serves GET /metrics on host:port (port 0: any free one). Resolves once
   * listening; EADDRINUSE-like failures are EINVAL naming the address.
   */
  async serve(port: number, host = '127.0.0.1'): Promise<MetricsServer> {
    checkInteger(port, 'port', 0, 65535);
    checkString(host, 'host');
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('wirecap serves /metrics\n');
        return;
      }
      this.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new WirecapError(`cannot serve metrics on ${host}:${port}: ${error.message}`, 'EINVAL')));
      server.listen(port, host, resolve);
    });
    const address = server.address() as { port: number };
    return {
      port: address.port,
      unref: () => void server.unref(),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections?.(); // scrapers' keep-alive connections
        }),
    };
  }
}

export interface MetricsServer {
  port: number;
  /** Lets the process exit while the server listens (as net.Server#unref). */
  unref(): void;
  close(): Promise<void>;
}

function labelsOf(labels: MetricsLabels): Partial<Record<(typeof LABELS)[number], string>> {
  const out: Partial<Record<(typeof LABELS)[number], string>> = {};
  for (const name of LABELS) if (labels[name] !== undefined) out[name] = labels[name];
  return out;
}

/** Counters in a registry of their own, or in the one given (your server's). */
export function createMetrics(options: { registry?: PromClient.Registry } = {}): WirecapMetrics {
  return new WirecapMetrics(options.registry ?? new (prom().Registry)());
}
