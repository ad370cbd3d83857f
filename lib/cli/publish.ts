/** `wirecap publish`: packets from a device or a file into a NATS JetStream stream. */
import { Command } from 'commander';
import fs from 'node:fs';
import { openLive } from '../capture/capture';
import { openOffline } from '../files/offline';
import { publishPackets } from '../nats/publish';
import { connectOptions, NatsFlags, natsOptions } from './nats-options';
import os from 'node:os';
import { captureSource, senderSource, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { Io, closeOnSignals, integer, progressLine } from './output';

export function registerPublish(cli: Command, { out, err }: Io): void {
  natsOptions(
    metricsOption(cli.command('publish'))
      .description('publish packets from a device or a capture file to NATS JetStream, a batch per message')
      .argument('<source>', 'device name, or a pcap/pcapng file (- for standard input)')
      .argument('[filter...]', 'BPF filter'),
  )
    .requiredOption('--subject <subject>', 'subject of the messages (a stream must take it)')
    .option('--sensor <name>', "this sensor's name in the messages (default: the host name)")
    .option('--batch <n>', 'packets per message at most', integer)
    .action(async (source: string, filter: string[], o: NatsFlags & MetricsFlag & { subject: string; sensor?: string; batch?: number }) => {
      const metrics = await listenMetrics(o.metrics, err);
      const isFile = source === '-' || (fs.existsSync(source) && fs.statSync(source).isFile());
      const capture = isFile ? openOffline(source, { filter: filter.join(' '), singleLinktype: true }) : openLive(source, { filter: filter.join(' ') });
      const publisher = publishPackets(capture, {
        ...connectOptions(o),
        subject: o.subject,
        ...(o.sensor ? { sensor: o.sensor } : {}),
        ...(o.batch ? { batchPackets: o.batch } : {}),
      });
      const sensor = o.sensor ?? os.hostname();
      metrics.watch(...(isFile ? [] : [captureSource(capture, sensor)]), senderSource({ device: source, sensor }, publisher));
      const release = closeOnSignals(() => capture.close());
      const progress = progressLine(out, '{sent} sent | {dropped} dropped | {retries} retries | {reconnects} reconnects | {rate} pkt/s', () => ({ ...publisher.stats() }), 'sent');
      try {
        const s = await publisher.done;
        progress.stop();
        out.write(`${s.sent} packets in ${s.messages} messages to ${o.subject}, ${s.dropped} dropped, ${s.retries} retries, ${s.reconnects} reconnects\n`);
      } finally {
        await metrics.close();
        progress.stop();
        release();
        capture.close();
      }
    });
}
