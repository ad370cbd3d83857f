/**
 * `wirecap dump`: a native dump with limits and rotation, and its progress
 * line. `-i a -i b` saves several devices into one pcapng file.
 */
import { Command, Option } from 'commander';
import { openLive } from '../capture/capture';
import { Dumper, DumpResult } from '../dump/dumper';
import { servePcap } from '../pcap-over-ip/server';
import { liveDump, LiveDumpOptions } from '../dump/live-dump';
import { dumpSources, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { Io, closeOnSignals, integer, listenAddress, progressLine, readerGone, textStream } from './output';

function dumpSummary(result: DumpResult, file: string): string {
  const end = readerGone(result.error) ? 'the reader went away' : result.reason === 'error' ? `error: ${result.error?.message}` : result.reason;
  const lines = [`${result.packets} packets, ${result.bytes} bytes in ${result.files} file(s) (${file}); ended: ${end}; mode: ${result.mode}`];
  if ((result.interfaces?.length ?? 0) > 1) {
    for (const part of result.interfaces!) {
      lines.push(`  ${part.device}: ${part.packets} packets${part.error ? `; went away: ${part.error.message}` : ''}`);
    }
  }
  return lines.join('\n');
}

const repeat = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * A dump whose capture is also served over pcap-over-IP: the capture tees
 * to the native dump (which loses nothing) and to the clients (who lose
 * what they are too slow for). The capture closes when the dump ends.
 */
async function dumpAndServe(device: string, file: string, options: LiveDumpOptions, where: { host: string; port: number }, err: NodeJS.WritableStream): Promise<Dumper> {
  const { filter, snaplen, precision, ...dumpOptions } = options;
  const capture = openLive(device, { filter, snaplen, precision });
  try {
    const dump = capture.dump(file, dumpOptions);
    const server = await servePcap(capture, where);
    err.write(`serving pcap-over-IP on ${where.host}:${server.port}\n`);
    void dump.done.then(() => capture.close());
    return dump;
  } catch (error) {
    capture.close();
    throw error;
  }
}

export function registerDump(cli: Command, io: Io): void {
  metricsOption(cli.command('dump'))
    .description('save packets to files natively, with limits and rotation; -i a -i b saves several devices into one pcapng file')
    .argument('[iface]', 'device name (or give devices with -i)')
    .argument('[filter...]', 'BPF filter (every device\'s)')
    .option('-i, --interface <name>', 'a device to save; repeat it for several (format pcapng)', repeat, [])
    .requiredOption('-w, --write <file>', 'output file (- for standard output: flushed per batch, summary on stderr)')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--max-bytes <n>', 'stop before the files pass n bytes', integer)
    .option('--duration <s>', 'stop after s seconds', integer)
    .option('-C, --file-size <MB>', 'rotate before a file passes MB megabytes (1,000,000 bytes)', integer)
    .option('-G, --file-seconds <s>', 'rotate every s seconds', integer)
    .option('-W, --files <n>', 'keep only the newest n files', integer)
    .addOption(new Option('--format <format>', 'file format (default pcap; pcapng with several devices)').choices(['pcap', 'pcapng']))
    .option('--snaplen <n>', 'bytes kept of each packet', integer)
    .option('--nano', 'nanosecond timestamps')
    .option('--serve <[host]:port>', 'also serve the packets over pcap-over-IP (one device); slow clients lose packets, the dump none', listenAddress)
    .action(async (iface: string | undefined, filter: string[], o: MetricsFlag & { serve?: { host: string; port: number }; interface: string[]; write: string; count?: number; maxBytes?: number; duration?: number; fileSize?: number; fileSeconds?: number; files?: number; format?: 'pcap' | 'pcapng'; snaplen?: number; nano?: boolean }) => {
      const metrics = await listenMetrics(o.metrics, io.err);
      // With -i, every argument is filter text.
      const words = o.interface.length > 0 && iface !== undefined ? [iface, ...filter] : filter;
      if (o.interface.length === 0 && iface === undefined) cli.error('error: give a device, or devices with -i', { exitCode: 2 });
      const rotate = { fileBytes: o.fileSize === undefined ? undefined : o.fileSize * 1_000_000, fileSeconds: o.fileSeconds, files: o.files };
      const options: LiveDumpOptions = {
        filter: words.join(' '),
        format: o.format,
        snaplen: o.snaplen,
        precision: o.nano ? 'nano' : 'micro',
        maxPackets: o.count,
        maxBytes: o.maxBytes,
        durationMs: o.duration === undefined ? undefined : o.duration * 1000,
        ...(Object.values(rotate).some((v) => v !== undefined) ? { rotate } : {}),
      };
      const devices = o.interface.length > 0 ? o.interface : (iface as string);
      if (o.serve && typeof devices !== 'string') cli.error('error: --serve takes one device', { exitCode: 2 });
      const clean = JSON.parse(JSON.stringify(options)) as LiveDumpOptions;
      const dump = o.serve ? await dumpAndServe(devices as string, o.write, clean, o.serve, io.err) : liveDump(devices, o.write, clean);
      const out = textStream(io, o.write);
      const release = closeOnSignals(() => void dump.stop());
      metrics.watch(...dumpSources(dump));
      const progress = progressLine(out, '{packets} packets | {bytes} bytes | {rate} pkt/s | {files} file(s)', () => ({ ...dump.stats() }), 'packets');
      const result = await dump.done;
      await metrics.close();
      progress.stop();
      release();
      out.write(`${dumpSummary(result, o.write)}\n`);
      if (result.reason === 'error' && !readerGone(result.error)) process.exitCode = 1;
    });
}
