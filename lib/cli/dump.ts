/** `wirecap dump`: a native dump with limits and rotation, and its progress line. */
import { Command, Option } from 'commander';
import { DumpResult } from '../dump/dumper';
import { liveDump, LiveDumpOptions } from '../dump/live-dump';
import { Io, closeOnSignals, integer, progressLine } from './output';
function dumpSummary(result: DumpResult, file: string): string {
  const end = result.reason === 'error' ? `error: ${result.error?.message}` : result.reason;
  return `${result.packets} packets, ${result.bytes} bytes in ${result.files} file(s) (${file}); ended: ${end}; mode: ${result.mode}`;
}

export function registerDump(cli: Command, { out }: Io): void {
  cli
    .command('dump')
    .description('save packets to files natively, with limits and rotation')
    .argument('<iface>', 'device name')
    .argument('[filter...]', 'BPF filter')
    .requiredOption('-w, --write <file>', 'output file')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--max-bytes <n>', 'stop before the files pass n bytes', integer)
    .option('--duration <s>', 'stop after s seconds', integer)
    .option('-C, --file-size <MB>', 'rotate before a file passes MB megabytes (1,000,000 bytes)', integer)
    .option('-G, --file-seconds <s>', 'rotate every s seconds', integer)
    .option('-W, --files <n>', 'keep only the newest n files', integer)
    .addOption(new Option('--format <format>', 'file format').choices(['pcap', 'pcapng']).default('pcap'))
    .option('--snaplen <n>', 'bytes kept of each packet', integer)
    .option('--nano', 'nanosecond timestamps')
    .action(async (iface: string, filter: string[], o: { write: string; count?: number; maxBytes?: number; duration?: number; fileSize?: number; fileSeconds?: number; files?: number; format: 'pcap' | 'pcapng'; snaplen?: number; nano?: boolean }) => {
      const rotate = { fileBytes: o.fileSize === undefined ? undefined : o.fileSize * 1_000_000, fileSeconds: o.fileSeconds, files: o.files };
      const options: LiveDumpOptions = {
        filter: filter.join(' '),
        format: o.format,
        snaplen: o.snaplen,
        precision: o.nano ? 'nano' : 'micro',
        maxPackets: o.count,
        maxBytes: o.maxBytes,
        durationMs: o.duration === undefined ? undefined : o.duration * 1000,
        ...(Object.values(rotate).some((v) => v !== undefined) ? { rotate } : {}),
      };
      const dump = liveDump(iface, o.write, JSON.parse(JSON.stringify(options)) as LiveDumpOptions);
      const release = closeOnSignals(() => void dump.stop());
      const progress = progressLine(out, '{packets} packets | {bytes} bytes | {rate} pkt/s | {files} file(s)', () => ({ ...dump.stats() }), 'packets');
      const result = await dump.done;
      progress.stop();
      release();
      out.write(`${dumpSummary(result, o.write)}\n`);
      if (result.reason === 'error') process.exitCode = 1;
    });
}
