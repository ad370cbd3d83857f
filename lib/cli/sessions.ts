/**
 * `wirecap sessions FILE|IFACE [filter]`: one line per connection that a
 * parser understood (HTTP host and requests, TLS or QUIC SNI, ALPN, JA4),
 * printed when the connection ends. And the `--sessions` option of `read`
 * and `capture`: each record printed after the packet that completed it.
 */
import { Command } from 'commander';
import type { Packet } from '../capture/batch';
import { CaptureFile } from '../files/offline';
import { FlowTracker } from '../flows/tracker';
import type { Flow, StreamFactory } from '../flows/types';
import { ParserRegistry } from '../sessions/registry';
import type { HandshakeRecord, HttpTransaction, SessionFlow, SessionRecord } from '../sessions/types';
import { closeOnSignals, formatTime, integer, Io, isoTime, openSource, progressLine, type PacketHooks } from './output';

const TLS_VERSIONS: Record<number, string> = { 0x0304: 'TLS1.3', 0x0303: 'TLS1.2', 0x0302: 'TLS1.1', 0x0301: 'TLS1.0', 0x0300: 'SSL3' };

const endpoints = (f: SessionFlow): string => {
  const k = f.key;
  const at = (a: string, p: number): string => (k.version === 6 ? `[${a}]:${p}` : `${a}:${p}`);
  return `${at(k.src, k.srcPort)} > ${at(k.dst, k.dstPort)}`;
};
const flagsText = (flags: string[]): string => (flags.length > 0 ? ` [${flags.join(',')}]` : '');

/** A handshake's fields: SNI, ALPN, the version and suite chosen, fingerprints, flags. */
function handshakeText(h: HandshakeRecord): string {
  const parts = [`sni=${h.sni ?? '-'}`, `alpn=${h.alpn.join(',') || '-'}`];
  if (h.server !== null) parts.push(`version=${TLS_VERSIONS[h.server.version] ?? h.server.version.toString(16)}`, `cipher=0x${h.server.cipherSuite.toString(16).padStart(4, '0')}`);
  if (h.ja4 !== null) parts.push(`ja4=${h.ja4}`);
  if (h.ja4s !== null) parts.push(`ja4s=${h.ja4s}`);
  if (h.ja3 !== null) parts.push(`ja3=${h.ja3}`);
  return `${parts.join(' ')}${flagsText(h.flags)}`;
}

/** A record as one line of text. */
export function recordText(r: SessionRecord): string {
  if (r.kind === 'http') {
    const t = r as HttpTransaction;
    const req = t.request === null ? '(no request)' : `${t.request.method} ${t.request.host ?? ''}${t.request.uri}`;
    const res = t.response === null ? '(no response)' : `${t.response.status} ${t.response.reason} (${t.response.bodyLength} bytes)`;
    return `HTTP ${endpoints(t.flow)} ${req} -> ${res}${flagsText(t.flags)}`;
  }
  if (r.kind === 'tls' || r.kind === 'quic') return `${r.kind.toUpperCase()} ${endpoints(r.flow)} ${handshakeText(r as HandshakeRecord)}`;
  return `${r.kind} ${endpoints(r.flow)}${flagsText(r.flags)}`;
}

/** JSON with bigints as decimal strings and buffers as hex. */
export function recordJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return String(v);
    if (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('hex');
    return v;
  });
}

/** One line per connection: its protocol, endpoints, and what its records say. */
function connectionLine(flow: Flow, records: SessionRecord[], json: boolean): string {
  if (json) return recordJson({ flow: { id: flow.id, key: flow.key }, first: isoTime(flow.first), last: isoTime(flow.last), endReason: flow.endReason, records });
  const head = `${formatTime(flow.first, false)} ${endpoints(flow)}`;
  const http = records.filter((r): r is HttpTransaction => r.kind === 'http');
  const hs = records.find((r): r is HandshakeRecord => r.kind === 'tls' || r.kind === 'quic');
  const flags = [...new Set(records.flatMap((r) => r.flags))];
  if (hs !== undefined) return `${head} ${hs.kind.toUpperCase()} ${handshakeText(hs)}`;
  if (http.length > 0) {
    const hosts = [...new Set(http.map((t) => t.request?.host).filter((h): h is string => typeof h === 'string'))];
    const first = http[0].request;
    const statuses = http.map((t) => t.response?.status ?? '-').join(',');
    return `${head} HTTP host=${hosts.join(',') || '-'} requests=${http.filter((t) => t.request !== null).length} first=${first === null ? '-' : `"${first.method} ${first.uri}"`} status=${statuses}${flagsText(flags)}`;
  }
  return `${head} ${records.map((r) => r.kind).join(',')}${flagsText(flags)}`;
}

/** Feeds packets to a flow tracker with the sessions parsers; hands out records and ended connections. */
export class SessionFeed {
  readonly registry = new ParserRegistry();
  readonly tracker: FlowTracker;
  private readonly pending: SessionRecord[] = [];

  constructor(onFlow?: (flow: Flow) => void) {
    this.tracker = new FlowTracker({ streams: this.registry.streams((r) => this.pending.push(r)) });
    if (onFlow !== undefined) this.tracker.on('flow', onFlow);
  }

  /** Adds a packet; returns the records it completed. */
  packet(p: Packet, linktype: number): SessionRecord[] {
    this.tracker.addPacket(p, linktype);
    return this.pending.splice(0);
  }

  batch(batch: Parameters<FlowTracker['addBatch']>[0], linktype: number): SessionRecord[] {
    this.tracker.addBatch(batch, linktype);
    return this.pending.splice(0);
  }

  /** Ends every open flow; returns the last records. */
  end(): SessionRecord[] {
    this.tracker.end();
    return this.pending.splice(0);
  }
}

/**
 * For `wirecap flows --sessions`: the tracker's `streams` option, and for
 * each ended flow its records (as indented lines, or as the array to put in
 * its JSON object). Records of a flow are kept only until the flow ends.
 */
export function flowSessions(): { streams: StreamFactory; records(flow: Flow): SessionRecord[]; lines(flow: Flow): string } {
  const registry = new ParserRegistry();
  const byFlow = new Map<number, SessionRecord[]>();
  const records = (flow: Flow): SessionRecord[] => {
    const list = byFlow.get(flow.id) ?? [];
    byFlow.delete(flow.id);
    return list;
  };
  return {
    streams: registry.streams((r) => {
      const list = byFlow.get(r.flow.id);
      if (list === undefined) byFlow.set(r.flow.id, [r]);
      else list.push(r);
    }),
    records,
    lines: (flow) => records(flow).map((r) => `  ${recordText(r)}\n`).join(''),
  };
}

/** For `read --sessions` and `capture --sessions`: after each packet, the records it completed (indented, or as JSON lines { record }). */
export function sessionHooks(json: boolean): PacketHooks {
  const feed = new SessionFeed();
  const lines = (records: SessionRecord[]): string => records.map((r) => (json ? `${recordJson({ record: r })}\n` : `  ${recordText(r)}\n`)).join('');
  return { after: (p, linktype) => lines(feed.packet(p, linktype)), atEnd: () => lines(feed.end()) };
}

export function registerSessions(cli: Command, { out, err }: Io): void {
  cli
    .command('sessions')
    .description('one line per connection a parser understood (HTTP host and requests, TLS/QUIC SNI, ALPN, JA4), as it ends')
    .argument('<source>', 'capture file (- for standard input) or device name')
    .argument('[filter...]', 'BPF filter')
    .option('-c, --count <n>', 'stop after n connections', integer)
    .option('--json', 'one JSON object a connection, with its records')
    .option('--records', 'one line a record (each HTTP transaction, each handshake) instead')
    .action(async (target: string, filter: string[], options: { count?: number; json?: boolean; records?: boolean }) => {
      const { cap } = openSource(target, filter.join(' '));
      const byFlow = new Map<number, SessionRecord[]>();
      let printed = 0;
      const onFlow = (flow: Flow): void => {
        const records = byFlow.get(flow.id);
        if (records === undefined || options.records) return;
        byFlow.delete(flow.id);
        if (options.count !== undefined && printed >= options.count) return;
        out.write(`${connectionLine(flow, records, options.json ?? false)}\n`);
        if (++printed === options.count) cap.close();
      };
      const feed = new SessionFeed(onFlow);
      const take = (records: SessionRecord[]): void => {
        for (const r of records) {
          if (options.records) {
            if (options.count !== undefined && printed >= options.count) continue;
            out.write(options.json ? `${recordJson(r)}\n` : `${recordText(r)}\n`);
            if (++printed === options.count) cap.close();
          } else {
            const list = byFlow.get(r.flow.id) ?? [];
            list.push(r);
            byFlow.set(r.flow.id, list);
          }
        }
      };
      const release = closeOnSignals(() => cap.close());
      const progress = cap instanceof CaptureFile ? progressLine(err, '{packets} packets | {flows} flows | {records} records | {rate} pkt/s', () => ({ packets: feed.tracker.stats.packets, flows: feed.registry.stats.flows, records: feed.registry.stats.records }), 'packets') : null;
      try {
        const file = cap instanceof CaptureFile ? cap : null;
        if (file !== null && file.interfaces.some((x) => x.linktype !== file.linktype)) {
          for await (const p of file) take(feed.packet(p, file.linktypeOf(p)));
        } else {
          for await (const batch of cap.batches({ recycle: true })) take(feed.batch(batch, cap.linktype));
        }
        take(feed.end());
      } finally {
        progress?.stop();
        release();
        cap.close();
      }
      const s = feed.registry.stats;
      err.write(`${s.flows} flows looked at, ${Object.entries(s.claimed).map(([k, v]) => `${v} ${k}`).join(', ') || 'none claimed'}, ${s.records} records, ${s.bytesGivenUp} bytes given up\n`);
    });
}
