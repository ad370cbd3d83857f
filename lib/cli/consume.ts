/**
 * `wirecap consume`: a JetStream stream's packets into capture files,
 * exactly once through a durable consumer; or, looking back (--since,
 * --sensor, or -w - for a pipe), through an ephemeral consumer that
 * leaves nothing behind.
 */
import { Command, Option } from 'commander';
import { collectPackets } from '../nats/collect';
import { consumePackets } from '../nats/consume';
import { connectOptions, NatsFlags, natsOptions } from './nats-options';
import { Io, closeOnSignals, integer, progressLine, textStream } from './output';
import { PacketSink } from '../files/sink';
import { collectorSource, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';

interface ConsumeFlags extends NatsFlags, MetricsFlag {
  stream: string;
  durable?: string;
  since?: string;
  sensor?: string;
  subject?: string;
  write: string;
  fileSize?: number;
  fileSeconds?: number;
  files?: number;
  format: 'pcap' | 'pcapng';
  ackWait?: number;
  fetch?: number;
}

export function registerConsume(cli: Command, io: Io): void {
  natsOptions(metricsOption(cli.command('consume')).description('write the packets of a NATS JetStream stream to capture files, with rotation, acking what is flushed; or look back in time (--since, --sensor) through an ephemeral consumer'))
    .requiredOption('--stream <name>', 'the stream')
    .option('--durable <name>', 'durable consumer (collectors sharing it split the stream; default wirecap)')
    .option('--since <time>', 'ephemeral consumer from this time: a duration back (90s, 5m, 2h), an ISO 8601 time, or now')
    .option('--sensor <name>', "ephemeral consumer: only this sensor's packets")
    .option('--subject <subject>', 'only messages on this subject')
    .requiredOption('-w, --write <file>', 'output file (with rotation, the name pattern); its state is kept in <file>.state; - for standard output (ephemeral)')
    .option('-C, --file-size <MB>', 'rotate before a file passes MB megabytes (1,000,000 bytes)', integer)
    .option('-G, --file-seconds <s>', 'rotate when a packet is s seconds younger than its file', integer)
    .option('-W, --files <n>', 'keep only the newest n files', integer)
    .addOption(new Option('--format <format>', 'file format').choices(['pcap', 'pcapng']).default('pcap'))
    .option('--ack-wait <ms>', 'when the consumer is created: redelivery after ms without an ack', integer)
    .option('--fetch <n>', 'messages fetched at a time (when the consumer is created, also its max ack pending; default 64)', integer)
    .action(async (o: ConsumeFlags) => {
      const ephemeral = o.since !== undefined || o.sensor !== undefined || o.write === '-';
      if (ephemeral && (o.durable !== undefined || o.fileSize || o.fileSeconds || o.files)) {
        cli.error('error: --since, --sensor and -w - read through an ephemeral consumer: no --durable, no rotation', { exitCode: 2 });
      }
      await (ephemeral ? lookBack(o, io) : exactlyOnce(o, io));
    });
}

async function exactlyOnce(o: ConsumeFlags, { out, err }: Io): Promise<void> {
  const metrics = await listenMetrics(o.metrics, err);
  const rotate = {
    ...(o.fileSize ? { fileBytes: o.fileSize * 1_000_000 } : {}),
    ...(o.fileSeconds ? { fileSeconds: o.fileSeconds } : {}),
    ...(o.files ? { files: o.files } : {}),
  };
  const collector = collectPackets({
    ...connectOptions(o),
    stream: o.stream,
    durable: o.durable ?? 'wirecap',
    ...(o.subject ? { filterSubject: o.subject } : {}),
    ...(o.ackWait ? { ackWaitMs: o.ackWait } : {}),
    ...(o.fetch ? { fetchMessages: o.fetch } : {}),
    write: { path: o.write, format: o.format, ...(Object.keys(rotate).length > 0 ? { rotate } : {}) },
    log: (m) => err.write(`${m}\n`),
  });
  metrics.watch(collectorSource(collector));
  const release = closeOnSignals(() => collector.stop());
  const progress = progressLine(out, '{packets} packets | {messages} messages | {rejected} rejected | {files} file(s) | {rate} pkt/s', () => ({ ...collector.stats() }), 'packets');
  try {
    const s = await collector.done;
    progress.stop();
    out.write(`${s.packets} packets from ${s.messages} messages in ${s.files} file(s) (${o.write}), ${s.rejected} rejected, ${s.duplicates} duplicates skipped\n`);
  } finally {
    await metrics.close();
    progress.stop();
    release();
  }
}

/** Reads from a time (or now) until Ctrl-C or the pipe's reader goes, writing each message as it comes. */
async function lookBack(o: ConsumeFlags, io: Io): Promise<void> {
  const metrics = await listenMetrics(o.metrics, io.err);
  const out = textStream(io, o.write);
  const consumer = consumePackets({
    ...connectOptions(o),
    stream: o.stream,
    since: o.since ?? 'now',
    ...(o.sensor ? { sensor: o.sensor } : {}),
    ...(o.subject ? { filterSubject: o.subject } : {}),
    ...(o.fetch ? { fetchMessages: o.fetch } : {}),
  });
  const sink = new PacketSink(o.write, o.format);
  let messages = 0;
  const stop = new AbortController();
  const release = closeOnSignals(() => stop.abort());
  metrics.watch([o.sensor ? { sensor: o.sensor } : {}, () => ({ written: sink.packets, messages })]);
  const progress = progressLine(out, '{packets} packets | {messages} messages | {rate} pkt/s', () => ({ packets: sink.packets, messages }), 'packets');
  const batches = consumer.batches();
  try {
    stop.signal.addEventListener('abort', () => void consumer.close(), { once: true });
    for await (const batch of batches) {
      messages++;
      if (!sink.writeBatch(batch, batch.packets) || stop.signal.aborted) break;
    }
  } finally {
    await metrics.close();
    progress.stop();
    release();
    sink.close();
    await consumer.close();
  }
  const ended = sink.gone ? '; the reader went away' : '';
  out.write(`${sink.packets} packets from ${messages} messages${o.sensor ? ` of sensor ${o.sensor}` : ''} to ${o.write}${ended}\n`);
}
