/**
 * wirecap's extcap interfaces and their captures: a JetStream stream read
 * from a time through an ephemeral consumer, and a gRPC PacketStreaming
 * listener. Each writes a pcap stream into Wireshark's FIFO, a batch at a
 * time, with the capture filter Wireshark passes applied by libpcap.
 */
import { packetFilter } from '../capture/packet-filter';
import { PacketSink, SinkFormat } from '../files/sink';
import { consumePackets } from '../nats/consume';
import { createCollector } from '../stream/collector';
import { ExtcapInterface } from './protocol';

const ETHERNET = { number: 1, name: 'EN10MB', display: 'Ethernet' };

export const INTERFACES: ExtcapInterface[] = [
  {
    value: 'wirecap-nats',
    display: 'wirecap: NATS JetStream stream',
    dlt: ETHERNET,
    args: [
      { call: '--nats', display: 'NATS servers', type: 'string', required: true, default: 'nats://127.0.0.1:4222', tooltip: 'URLs, comma-separated' },
      { call: '--stream', display: 'Stream', type: 'string', required: true, default: 'PACKETS' },
      { call: '--sensor', display: 'Sensor', type: 'string', tooltip: "only this sensor's packets (empty: every sensor)" },
      { call: '--subject', display: 'Subject', type: 'string', tooltip: 'only messages on this subject (empty: all)' },
      { call: '--since', display: 'Start', type: 'string', default: 'now', tooltip: 'now, a duration back (90s, 5m, 2h, 1d) or an ISO 8601 time' },
      { call: '--creds', display: 'Credentials file', type: 'string', tooltip: 'NATS credentials (JWT and NKey seed)' },
    ],
  },
  {
    value: 'wirecap-grpc',
    display: 'wirecap: gRPC PacketStreaming listener',
    dlt: ETHERNET,
    args: [
      { call: '--port', display: 'Port', type: 'unsigned', range: '1,65535', required: true, default: '7777' },
      { call: '--host', display: 'Listen address', type: 'string', default: '127.0.0.1' },
    ],
  },
];

export interface ExtcapCaptureOptions {
  fifo: string;
  filter?: string;
  nats?: string;
  stream?: string;
  sensor?: string;
  subject?: string;
  since?: string;
  creds?: string;
  port?: number;
  host?: string;
  /** Ends the capture (Wireshark stops an extcap with SIGTERM, or by closing the FIFO). */
  signal: AbortSignal;
}

/** The FIFO's writer with the capture filter, compiled for the first batch's link type. */
class FilteredSink {
  #sink: PacketSink;
  #expr: string;
  #matches: ((p: { data: Uint8Array; len?: number }) => boolean) | null = null;

  constructor(fifo: string, expr: string | undefined) {
    this.#sink = new PacketSink(fifo);
    this.#expr = expr ?? '';
  }

  get packets(): number {
    return this.#sink.packets;
  }

  /** false once Wireshark closed the FIFO. */
  write(format: SinkFormat, packets: { timestamp: bigint; data: Buffer; len: number }[]): boolean {
    if (this.#expr !== '' && this.#matches === null) this.#matches = packetFilter(this.#expr, format.linktype, format.snaplen);
    const kept = this.#matches === null ? packets : packets.filter(this.#matches);
    return this.#sink.writeBatch(format, kept);
  }

  close(): void {
    this.#sink.close();
  }
}

/** Runs interface's capture until the signal or Wireshark closing the FIFO; resolves with the packets written. */
export async function extcapCapture(iface: string, o: ExtcapCaptureOptions): Promise<number> {
  const sink = new FilteredSink(o.fifo, o.filter);
  try {
    if (iface === 'wirecap-nats') await fromNats(o, sink);
    else await fromGrpc(o, sink);
  } finally {
    sink.close();
  }
  return sink.packets;
}

async function fromNats(o: ExtcapCaptureOptions, sink: FilteredSink): Promise<void> {
  const consumer = consumePackets({
    servers: (o.nats ?? 'nats://127.0.0.1:4222').split(','),
    stream: o.stream ?? 'PACKETS',
    since: o.since || 'now',
    ...(o.sensor ? { sensor: o.sensor } : {}),
    ...(o.subject ? { filterSubject: o.subject } : {}),
    ...(o.creds ? { creds: o.creds } : {}),
  });
  const onAbort = (): void => void consumer.close();
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const batch of consumer.batches()) {
      if (!sink.write(batch, batch.packets) || o.signal.aborted) break;
    }
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    await consumer.close();
  }
}

async function fromGrpc(o: ExtcapCaptureOptions, sink: FilteredSink): Promise<void> {
  // A sender that breaks off is no error of the capture's: Wireshark would show anything on stderr as one.
  const collector = await createCollector({ port: o.port ?? 7777, host: o.host || '127.0.0.1', log: () => {} });
  const format = { linktype: 1, snaplen: 262144, precision: 'micro' as const }; // the protocol carries Ethernet frames in microseconds
  let failure: unknown = null;
  const ended = new Promise<void>((resolve) => {
    const end = (): void => resolve();
    o.signal.addEventListener('abort', end, { once: true });
    void (async () => {
      for await (const stream of collector.streams()) {
        // Each stream is written as it comes (a packet per message), until Wireshark closes the FIFO.
        void (async () => {
          for await (const p of stream) {
            let open: boolean;
            try {
              open = sink.write(format, [p]);
            } catch (error) {
              failure = error;
              return end();
            }
            if (!open) return end();
          }
        })().catch(() => {}); // the stream broke off: its sender's business
      }
    })();
  });
  await ended;
  await collector.close(0);
  if (failure !== null) throw failure;
}
