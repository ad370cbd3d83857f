/**
 * What the commands share: argument parsers, how a packet prints, progress
 * lines and signal handling.
 */
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { Packet } from '../capture/batch';
import { Capture, CaptureStats, openLive } from '../capture/capture';
import { CaptureFile, openOffline } from '../files/offline';
import { decode } from '../decode';
import { summarize } from './summary';

/** Where a command writes: its results to out, diagnostics to err. */
export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** [host]:port for the servers commands start (--metrics, --listen, --serve); :port listens on every address. */
export function listenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new InvalidArgumentError('give [host]:port, e.g. :9464 or 127.0.0.1:9464');
  return { host: m[1] || '0.0.0.0', port };
}

export function integer(value: string): number {
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
  const decoded = decode(p.data, linktype);
  const summary = summarize(linktype, p.data, decoded);
  if (options.json) {
    return JSON.stringify({
      time: isoTime(p.timestamp),
      timestamp: String(p.timestamp),
      caplen: p.caplen,
      len: p.len,
      summary,
      layers: decoded.layers,
      payloadOffset: decoded.payloadOffset,
      payloadLength: decoded.payloadLength,
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

export function statsText(s: CaptureStats): string {
  const kernel = s.dropped === null ? '' : `, ${s.dropped} dropped by kernel`;
  return `${s.captured} packets captured, ${s.delivered} delivered${kernel}, ${s.consumerDropped} dropped by wirecap's queue`;
}

/** What prints: a capture, a file, or a pcap-over-IP stream. */
export interface PacketSource extends AsyncIterable<Packet> {
  readonly linktype: number;
  readonly precision: 'micro' | 'nano';
  close(): void;
}

/** Text printed after each packet's line, and at the end (the sessions records of read/capture --sessions). */
export interface PacketHooks {
  after(p: Packet, linktype: number): string;
  atEnd(): string;
}

/** Prints packets of a capture or file until count, the end, or a signal. */
async function printPackets(
  source: PacketSource,
  options: { count?: number; json?: boolean; hex?: boolean },
  out: NodeJS.WritableStream,
  hooks?: PacketHooks,
): Promise<number> {
  const nano = source.precision === 'nano';
  let n = 0;
  for await (const p of source) {
    const linktype = source instanceof CaptureFile ? source.linktypeOf(p) : source.linktype;
    out.write(`${packetLine(p, linktype, { ...options, nano })}\n${hooks?.after(p, linktype) ?? ''}`);
    if (++n === options.count) break;
  }
  if (hooks !== undefined) out.write(hooks.atEnd());
  return n;
}

/**
 * A progress line (cli-progress) redrawn four times a second when out is a
 * terminal, nothing otherwise. stats() gives its fields; rate is rateOf per
 * second. stop() draws it a last time.
 */
export function progressLine(out: NodeJS.WritableStream, format: string, stats: () => Record<string, number>, rateOf: string): { stop(): void } {
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
export async function printToEnd(cap: PacketSource, options: { count?: number; json?: boolean; hex?: boolean }, out: NodeJS.WritableStream, hooks?: PacketHooks): Promise<void> {
  const release = closeOnSignals(() => cap.close());
  try {
    await printPackets(cap, options, out, hooks);
  } finally {
    release();
    cap.close();
  }
}

/**
 * Where a command's summary and progress go: stderr when its packets go to
 * standard output (-w -), so the pipe carries nothing but the capture.
 */
export function textStream(io: Io, write: string | undefined): NodeJS.WritableStream {
  return write === '-' ? io.err : io.out;
}

/** Whether an error is the reader of a pipe going away (EPIPE): an end, not a failure. */
export function readerGone(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === 'EPIPE';
}

/** A file when the path exists (or is - for standard input), else a device. */
export function openSource(source: string, filter: string): { cap: Capture; live: boolean } {
  if (source === '-' || fs.existsSync(source)) return { cap: openOffline(source, filter === '' ? {} : { filter }), live: false };
  return { cap: openLive(source, filter === '' ? {} : { filter }), live: true };
}

/** Closes source on Ctrl-C or SIGTERM; returns a function that removes the handlers. */
export function closeOnSignals(close: () => void): () => void {
  process.once('SIGINT', close);
  process.once('SIGTERM', close);
  return () => {
    process.off('SIGINT', close);
    process.off('SIGTERM', close);
  };
}
