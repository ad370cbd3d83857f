#!/usr/bin/env node
/**
 * The wirecap command: list devices, capture or read packets one line each,
 * dump natively to files, and describe capture files.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { Packet } from '../capture/batch';
import { Capture, CaptureStats, openLive } from '../capture/capture';
import { devices } from '../capture/devices';
import { DumpResult } from '../dump/dumper';
import { WirecapError } from '../core/errors';
import { liveDump, LiveDumpOptions } from '../dump/live-dump';
import { openTrace } from '../files/navigate';
import { openOffline } from '../files/offline';
import { slice } from '../files/slice';
import { createCollector } from '../stream/collector';
import { streamPackets } from '../stream/exporter';
import { DEFAULT_PROTO_PACKAGE } from '../stream/protocol';
import { summarize } from './summary';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number is expected');
  return n;
}

/** Local wall-clock time with 6 or 9 fraction digits, as tcpdump prints it. */
export function formatTime(timestamp: bigint, nano: boolean): string {
  const date = new Date(Number(timestamp / 1_000_000n));
  const hms = [date.getHours(), date.getMinutes(), date.getSeconds()].map((v) => String(v).padStart(2, '0')).join(':');
  const fraction = String(timestamp % 1_000_000_000n).padStart(9, '0');
  return `${hms}.${nano ? fraction : fraction.slice(0, 6)}`;
}

/** ISO 8601 in UTC with every digit the timestamp has. */
export function isoTime(timestamp: bigint): string {
  const iso = new Date(Number(timestamp / 1_000_000n)).toISOString(); // ...T12:34:56.789Z
  return `${iso.slice(0, 19)}.${String(timestamp % 1_000_000_000n).padStart(9, '0')}Z`;
}

export function packetLine(p: Packet, linktype: number, options: { json?: boolean; nano?: boolean; hex?: boolean }): string {
  const summary = summarize(linktype, p.data);
  if (options.json) {
    return JSON.stringify({
      time: isoTime(p.timestamp),
      timestamp: String(p.timestamp),
      caplen: p.caplen,
      len: p.len,
      summary,
      ...(options.hex ? { data: Buffer.from(p.data).toString('hex') } : {}),
    });
  }
  const line = `${formatTime(p.timestamp, options.nano ?? false)} ${summary}${p.caplen < p.len ? ` (caplen ${p.caplen} of ${p.len})` : ''}`;
  return options.hex ? `${line}\n${hexDump(p.data)}` : line;
}

function hexDump(data: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += 16) {
    const chunk = Buffer.from(data.subarray(i, i + 16));
    const hex = (chunk.toString('hex').match(/.{1,4}/g) ?? []).join(' ');
    lines.push(`\t0x${i.toString(16).padStart(4, '0')}:  ${hex}`);
  }
  return lines.join('\n');
}

function statsText(s: CaptureStats): string {
  const kernel = s.dropped === null ? '' : `, ${s.dropped} dropped by kernel`;
  return `${s.captured} packets captured, ${s.delivered} delivered${kernel}, ${s.consumerDropped} dropped by wirecap's queue`;
}

/** Prints packets of a capture or file until count, the end, or a signal. */
async function printPackets(
  source: Capture,
  options: { count?: number; json?: boolean; hex?: boolean },
  out: NodeJS.WritableStream,
): Promise<number> {
  const nano = source.precision === 'nano';
  let n = 0;
  for await (const p of source) {
    out.write(`${packetLine(p, source.linktype, { ...options, nano })}\n`);
    if (++n === options.count) break;
  }
  return n;
}

/**
 * A progress line (cli-progress) redrawn four times a second when out is a
 * terminal, nothing otherwise. stats() gives its fields; rate is rateOf per
 * second. stop() draws it a last time.
 */
function progressLine(out: NodeJS.WritableStream, format: string, stats: () => Record<string, number>, rateOf: string): { stop(): void } {
  if ((out as NodeJS.WriteStream).isTTY !== true) return { stop() {} };
  const bar = new cliProgress.SingleBar({ format, stream: out as NodeJS.WriteStream, hideCursor: true }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  const update = (): void => {
    const s = stats();
    bar.update(0, { ...s, rate: Math.round(s[rateOf] / Math.max((Date.now() - started) / 1000, 0.001)) });
  };
  bar.start(1, 0, { ...stats(), rate: 0 });
  const timer = setInterval(update, 250);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      update();
      bar.stop();
    },
  };
}

/** Prints a capture's packets until it ends, Ctrl-C or the count, then closes it. */
async function printToEnd(cap: Capture, options: { count?: number; json?: boolean; hex?: boolean }, out: NodeJS.WritableStream): Promise<void> {
  const release = closeOnSignals(() => cap.close());
  try {
    await printPackets(cap, options, out);
  } finally {
    release();
    cap.close();
  }
}

/** Closes source on Ctrl-C or SIGTERM; returns a function that removes the handlers. */
function closeOnSignals(close: () => void): () => void {
  process.once('SIGINT', close);
  process.once('SIGTERM', close);
  return () => {
    process.off('SIGINT', close);
    process.off('SIGTERM', close);
  };
}

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

function dumpSummary(result: DumpResult, file: string): string {
  const end = result.reason === 'error' ? `error: ${result.error?.message}` : result.reason;
  return `${result.packets} packets, ${result.bytes} bytes in ${result.files} file(s) (${file}); ended: ${end}; mode: ${result.mode}`;
}

export function program(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Command {
  const cli = new Command('wirecap')
    .description('live packet capture, native dumps and capture files, over libpcap / Npcap')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
    .exitOverride();

  cli
    .command('list')
    .description('list the devices libpcap can capture on')
    .option('--json', 'one JSON array')
    .action((options: { json?: boolean }) => {
      const list = devices();
      if (options.json) {
        out.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      list.forEach((d, i) => {
        const flags = Object.entries(d.flags)
          .filter(([k, v]) => v === true && k !== 'connection')
          .map(([k]) => k);
        const addresses = d.addresses.map((a) => a.address).join(', ');
        out.write(`${i + 1}. ${d.name}${d.description ? ` (${d.description})` : ''} [${flags.join(', ')}]${addresses ? ` ${addresses}` : ''}\n`);
      });
    });

  cli
    .command('capture')
    .description('print packets from a device, one line each, until Ctrl-C or -c')
    .argument('<iface>', 'device name (see wirecap list)')
    .argument('[filter...]', 'BPF filter, as tcpdump takes it')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--json', 'one JSON object a line')
    .option('--hex', 'print the bytes too')
    .option('--snaplen <n>', 'bytes kept of each packet', integer)
    .option('--immediate', 'deliver each packet at once')
    .option('--nano', 'nanosecond timestamps')
    .action(async (iface: string, filter: string[], options: { count?: number; json?: boolean; hex?: boolean; snaplen?: number; immediate?: boolean; nano?: boolean }) => {
      const cap = openLive(iface, {
        filter: filter.join(' '),
        snaplen: options.snaplen,
        immediate: options.immediate ?? false,
        precision: options.nano ? 'nano' : 'micro',
      });
      try {
        await printToEnd(cap, options, out);
      } finally {
        err.write(`${statsText(cap.stats())}\n`);
      }
    });

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

  cli
    .command('read')
    .description('print the packets of a capture file (- for standard input)')
    .argument('<file>', 'pcap or pcapng file')
    .argument('[filter...]', 'BPF filter')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--json', 'one JSON object a line')
    .option('--hex', 'print the bytes too')
    .action(async (file: string, filter: string[], options: { count?: number; json?: boolean; hex?: boolean }) => {
      await printToEnd(openOffline(file, { filter: filter.join(' ') }), options, out);
    });

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

  cli
    .command('stream')
    .description('stream packets from a device or a capture file to a PacketStreaming collector over gRPC')
    .argument('<source>', 'device name, or a pcap/pcapng file')
    .argument('[filter...]', 'BPF filter')
    .requiredOption('--to <host:port>', 'the collector')
    .option('--tls', "use TLS (the system's CA roots unless --ca)")
    .option('--ca <file>', "PEM file of the CA that signed the collector's certificate (implies --tls)")
    .option('--proto-package <name>', "proto package of the peer's service", DEFAULT_PROTO_PACKAGE)
    .action(async (source: string, filter: string[], o: { to: string; tls?: boolean; ca?: string; protoPackage: string }) => {
      const isFile = fs.existsSync(source) && fs.statSync(source).isFile();
      const capture = isFile ? openOffline(source, { filter: filter.join(' ') }) : openLive(source, { filter: filter.join(' ') });
      const stream = streamPackets(o.to, capture, { tls: o.ca ? { ca: o.ca } : o.tls === true, protoPackage: o.protoPackage });
      const release = closeOnSignals(() => capture.close());
      const progress = progressLine(out, '{sent} sent | {dropped} dropped | {reconnects} reconnects | {rate} pkt/s', () => ({ ...stream.stats() }), 'sent');
      try {
        const s = await stream.done;
        progress.stop();
        out.write(`${s.sent} packets sent to ${o.to}, ${s.dropped} dropped, ${s.reconnects} reconnects\n`);
      } finally {
        progress.stop();
        release();
        capture.close();
      }
    });

  cli
    .command('collect')
    .description('collect PacketStreaming streams over gRPC, optionally into a capture file')
    .requiredOption('--port <n>', 'port to listen on', integer)
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('-w, --write <file>', 'write the packets of every stream to this file')
    .option('--per-stream', 'one file per stream: <name>_<stream id><.ext>')
    .addOption(new Option('--format <format>', 'file format').choices(['pcap', 'pcapng']).default('pcap'))
    .option('--tls-cert <file>', 'PEM certificate (with --tls-key) for TLS')
    .option('--tls-key <file>', 'PEM private key')
    .option('--proto-package <name>', 'proto package of the service', DEFAULT_PROTO_PACKAGE)
    .action(async (o: { port: number; host: string; write?: string; perStream?: boolean; format: 'pcap' | 'pcapng'; tlsCert?: string; tlsKey?: string; protoPackage: string }) => {
      const collector = await createCollector({
        port: o.port,
        host: o.host,
        protoPackage: o.protoPackage,
        ...(o.write ? { write: { path: o.write, format: o.format, perStream: o.perStream === true } } : {}),
        ...(o.tlsCert && o.tlsKey ? { tls: { cert: o.tlsCert, key: o.tlsKey } } : {}),
        log: (m) => err.write(`${m}\n`),
      });
      err.write(`collecting on ${o.host}:${collector.port}\n`);
      await new Promise<void>((resolve) => {
        const release = closeOnSignals(() => {
          release();
          resolve();
        });
      });
      await collector.close();
      const summaries = collector.summaries();
      for (const s of summaries) out.write(`stream ${s.id} from ${s.peer}: ${s.packets} packets${s.error ? `, ended by ${s.error.code}` : ''}\n`);
      out.write(`${summaries.reduce((n, s) => n + s.packets, 0)} packets in ${summaries.length} streams\n`);
    });

  cli
    .command('slice')
    .description('merge capture files in time order and cut them to a time window')
    .requiredOption('-w, --write <file>', 'the output file')
    .option('--start <time>', 'keep packets from this time: ISO 8601, epoch seconds, or +seconds after the first packet')
    .option('--end <time>', 'keep packets before this time (same forms)')
    .option('--filter <expr>', 'BPF filter')
    .addOption(new Option('--format <format>', 'output format').choices(['pcap', 'pcapng']).default('pcap'))
    .argument('<files...>', 'pcap or pcapng files')
    .action(async (files: string[], options: { write: string; start?: string; end?: string; filter?: string; format: 'pcap' | 'pcapng' }) => {
      let origin: bigint | null = null;
      const firstPacket = (): bigint => {
        if (origin === null) {
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

  return cli;
}

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

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof WirecapError) {
      process.stderr.write(`wirecap: ${error.message}\n`);
      return 1;
    }
    const code = (error as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // Help and version exit 0; usage errors were already explained.
      return (error as { exitCode: number }).exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
