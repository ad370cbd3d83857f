/** `wirecap capture`: a device's packets, one line each. */
import { Command } from 'commander';
import { Capture, openLive } from '../capture/capture';
import { Io, closeOnSignals, integer, printToEnd, statsText } from './output';
import { PacketSink } from '../files/sink';
import { captureSource, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { sessionHooks } from './sessions';


export function registerCapture(cli: Command, { out, err }: Io): void {
  metricsOption(cli.command('capture'))
    .description('print packets from a device, one line each, until Ctrl-C or -c')
    .argument('<iface>', 'device name (see wirecap list)')
    .argument('[filter...]', 'BPF filter, as tcpdump takes it')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--json', 'one JSON object a line')
    .option('--hex', 'print the bytes too')
    .option('--snaplen <n>', 'bytes kept of each packet', integer)
    .option('--immediate', 'deliver each packet at once')
    .option('--nano', 'nanosecond timestamps')
    .option('-w, --write <file>', 'write the packets to a pcap file instead of printing them (- for standard output, flushed per batch)')
    .option('--sessions', 'after the packet that completes one, each HTTP transaction and TLS/QUIC handshake')
    .action(async (iface: string, filter: string[], options: MetricsFlag & { count?: number; json?: boolean; hex?: boolean; snaplen?: number; immediate?: boolean; nano?: boolean; write?: string; sessions?: boolean }) => {
      const metrics = await listenMetrics(options.metrics, err);
      const cap = openLive(iface, {
        filter: filter.join(' '),
        snaplen: options.snaplen,
        immediate: options.immediate ?? false,
        precision: options.nano ? 'nano' : 'micro',
      });
      metrics.watch(captureSource(cap));
      try {
        if (options.write === undefined) await printToEnd(cap, options, out, options.sessions ? sessionHooks(options.json ?? false) : undefined);
        else await writeToEnd(cap, options.write, options.count);
      } finally {
        await metrics.close();
        err.write(`${statsText(cap.stats())}\n`);
      }
    });
}

/** Writes a capture's batches to file (or a pipe) until the count, Ctrl-C or the pipe's reader going away. */
async function writeToEnd(cap: Capture, file: string, count: number | undefined): Promise<void> {
  const sink = new PacketSink(file);
  const release = closeOnSignals(() => cap.close());
  try {
    for await (const batch of cap.batches()) {
      const take = count === undefined ? batch.count : Math.min(batch.count, count - sink.packets);
      const packets = Array.from({ length: take }, (_, i) => batch.packet(i));
      if (!sink.writeBatch(cap, packets) || sink.packets === count) break;
    }
  } finally {
    release();
    cap.close();
    sink.close();
  }
}
