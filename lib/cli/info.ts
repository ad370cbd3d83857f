/** `wirecap info`: what a capture file is, from its two ends. */
import { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import { openTrace } from '../files/navigate';
import { openOffline } from '../files/offline';
import { Io, isoTime } from './output';

export interface FileInfo {
  file: string;
  format: string | null;
  byteOrder: 'little-endian' | 'big-endian';
  /** Of a pcap file; null for pcapng, where each interface has its own. */
  precision: 'micro' | 'nano' | null;
  version: string;
  linktype: number;
  linktypeName: string | null;
  snaplen: number;
  /** null unless counted (--count, or standard input, which is read through anyway). */
  packets: number | null;
  firstTime: string | null;
  lastTime: string | null;
  durationMs: number | null;
  bytes: number;
}

/**
 * Everything `wirecap info` prints. The first and last times come from the
 * file's two ends (openTrace), so a file of any size answers at once; the
 * packet count reads it through and is taken only when asked for.
 */
export async function fileInfo(file: string, options: { count?: boolean } = {}): Promise<FileInfo> {
  const cap = openOffline(file);
  let packets: number | null = null;
  let first: bigint | null = null;
  let last: bigint | null = null;
  if (file !== '-') {
    const trace = openTrace(file);
    try {
      first = trace.firstTime;
      last = trace.lastTime;
    } finally {
      trace.close();
    }
  }
  if (options.count || file === '-') {
    packets = 0;
    for await (const batch of cap.batches()) {
      if (batch.count === 0) continue;
      if (file === '-') {
        first ??= batch.timestamps[0];
        last = batch.timestamps[batch.count - 1];
      }
      packets += batch.count;
    }
  }
  cap.close();
  const hostLittle = os.endianness() === 'LE';
  const fileLittle = cap.swapped ? !hostLittle : hostLittle;
  return {
    file,
    format: cap.format,
    byteOrder: fileLittle ? 'little-endian' : 'big-endian',
    precision: cap.format === 'pcap' ? 'micro' : cap.format === 'pcap-nsec' ? 'nano' : null,
    version: cap.version,
    linktype: cap.linktype,
    linktypeName: cap.linktypeName,
    snaplen: cap.snaplen,
    packets,
    firstTime: first === null ? null : isoTime(first),
    lastTime: last === null ? null : isoTime(last),
    durationMs: first === null || last === null ? null : Number(last - first) / 1e6,
    bytes: file === '-' ? 0 : fs.statSync(file).size,
  };
}

export function registerInfo(cli: Command, { out }: Io): void {
  cli
    .command('info')
    .description('describe a capture file; times come from its two ends, so any size answers at once')
    .argument('<file>', 'pcap or pcapng file (- for standard input)')
    .option('--count', 'count the packets too (reads the whole file)')
    .option('--json', 'as JSON')
    .action(async (file: string, options: { json?: boolean; count?: boolean }) => {
      const info = await fileInfo(file, options);
      if (options.json) {
        out.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const rows: [string, unknown][] = [
        ['File', info.file],
        ['Format', info.format ?? 'unknown (standard input)'],
        ['Version', info.version],
        ['Byte order', info.byteOrder],
        ['Precision', info.precision ?? 'per interface'],
        ['Link type', `${info.linktypeName ?? '?'} (${info.linktype})`],
        ['Snaplen', info.snaplen],
        ['Packets', info.packets ?? 'not counted (--count)'],
        ['First packet', info.firstTime ?? '-'],
        ['Last packet', info.lastTime ?? '-'],
        ['Duration (ms)', info.durationMs ?? '-'],
        ['File size (bytes)', info.bytes],
      ];
      for (const [name, value] of rows) out.write(`${`${name}:`.padEnd(20)}${value}\n`);
    });
}
