/** `wirecap consume`: a JetStream stream's packets into capture files, exactly once. */
import { Command, Option } from 'commander';
import { collectPackets } from '../nats/collect';
import { connectOptions, NatsFlags, natsOptions } from './nats-options';
import { Io, closeOnSignals, integer, progressLine } from './output';

export function registerConsume(cli: Command, { out, err }: Io): void {
  natsOptions(cli.command('consume').description('write the packets of a NATS JetStream stream to capture files, with rotation, acking what is flushed'))
    .requiredOption('--stream <name>', 'the stream')
    .option('--durable <name>', 'durable consumer (collectors sharing it split the stream)', 'wirecap')
    .requiredOption('-w, --write <file>', 'output file (with rotation, the name pattern); its state is kept in <file>.state')
    .option('-C, --file-size <MB>', 'rotate before a file passes MB megabytes (1,000,000 bytes)', integer)
    .option('-G, --file-seconds <s>', 'rotate when a packet is s seconds younger than its file', integer)
    .option('-W, --files <n>', 'keep only the newest n files', integer)
    .addOption(new Option('--format <format>', 'file format').choices(['pcap', 'pcapng']).default('pcap'))
    .option('--ack-wait <ms>', 'when the consumer is created: redelivery after ms without an ack', integer)
    .option('--fetch <n>', 'messages fetched at a time (when the consumer is created, also its max ack pending; default 64)', integer)
    .action(async (o: NatsFlags & { stream: string; durable: string; write: string; fileSize?: number; fileSeconds?: number; files?: number; format: 'pcap' | 'pcapng'; ackWait?: number; fetch?: number }) => {
      const rotate = {
        ...(o.fileSize ? { fileBytes: o.fileSize * 1_000_000 } : {}),
        ...(o.fileSeconds ? { fileSeconds: o.fileSeconds } : {}),
        ...(o.files ? { files: o.files } : {}),
      };
      const collector = collectPackets({
        ...connectOptions(o),
        stream: o.stream,
        durable: o.durable,
        ...(o.ackWait ? { ackWaitMs: o.ackWait } : {}),
        ...(o.fetch ? { fetchMessages: o.fetch } : {}),
        write: { path: o.write, format: o.format, ...(Object.keys(rotate).length > 0 ? { rotate } : {}) },
        log: (m) => err.write(`${m}\n`),
      });
      const release = closeOnSignals(() => collector.stop());
      const progress = progressLine(out, '{packets} packets | {messages} messages | {rejected} rejected | {files} file(s) | {rate} pkt/s', () => ({ ...collector.stats() }), 'packets');
      try {
        const s = await collector.done;
        progress.stop();
        out.write(`${s.packets} packets from ${s.messages} messages in ${s.files} file(s) (${o.write}), ${s.rejected} rejected, ${s.duplicates} duplicates skipped\n`);
      } finally {
        progress.stop();
        release();
      }
    });
}
