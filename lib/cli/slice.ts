/** `wirecap slice`: capture files merged in time order and cut to a window. */
import { Command, Option } from 'commander';
import { WirecapError } from '../core/errors';
import { openTrace } from '../files/navigate';
import { slice } from '../files/slice';
import { Io } from './output';

/**
 * A time given on the command line, as nanoseconds since the epoch: ISO
 * 8601 (with up to nine fraction digits), epoch seconds (1700000000.5), or
 * +seconds after the first packet (+90, +0.25).
 */
export function parseTime(text: string, firstPacket: () => bigint): bigint {
  const seconds = (digits: string): bigint => {
    const [whole, fraction = ''] = digits.split('.');
    return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9));
  };
  if (/^\+\d+(\.\d+)?$/.test(text)) return firstPacket() + seconds(text.slice(1));
  if (/^\d+(\.\d+)?$/.test(text)) return seconds(text);
  const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  const ms = iso ? Date.parse(`${iso[1]}${iso[3]}`) : Number.NaN;
  if (iso === null || Number.isNaN(ms)) {
    throw new WirecapError(`bad time '${text}': use ISO 8601 (2026-11-25T10:00:00Z), epoch seconds or +seconds`, 'EINVAL');
  }
  return BigInt(ms) * 1_000_000n + BigInt((iso[2] ?? '').padEnd(9, '0'));
}

export function registerSlice(cli: Command, { err }: Io): void {
  cli
    .command('slice')
    .description('merge capture files in time order and cut them to a time window')
    .requiredOption('-w, --write <file>', 'the output file (- for standard output)')
    .option('--start <time>', 'keep packets from this time: ISO 8601, epoch seconds, or +seconds after the first packet')
    .option('--end <time>', 'keep packets before this time (same forms)')
    .option('--filter <expr>', 'BPF filter')
    .addOption(new Option('--format <format>', 'output format').choices(['pcap', 'pcapng']).default('pcap'))
    .argument('<files...>', 'pcap or pcapng files (- for standard input)')
    .action(async (files: string[], options: { write: string; start?: string; end?: string; filter?: string; format: 'pcap' | 'pcapng' }) => {
      let origin: bigint | null = null;
      const firstPacket = (): bigint => {
        if (origin === null) {
          if (files.includes('-')) throw new WirecapError('+seconds needs the first packet of every input, and standard input cannot be read twice: give an absolute time', 'EINVAL');
          const times = files.map((f) => {
            const trace = openTrace(f);
            try {
              return trace.firstTime;
            } finally {
              trace.close();
            }
          });
          origin = times.reduce<bigint | null>((m, t) => (t !== null && (m === null || t < m) ? t : m), null) ?? 0n;
        }
        return origin;
      };
      const result = await slice(files, options.write, {
        start: options.start === undefined ? undefined : parseTime(options.start, firstPacket),
        end: options.end === undefined ? undefined : parseTime(options.end, firstPacket),
        filter: options.filter,
        format: options.format,
      });
      err.write(`${result.packets} packets, ${result.bytes} bytes written to ${options.write}\n`);
    });
}
