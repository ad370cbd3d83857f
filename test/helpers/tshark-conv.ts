/** tshark's conversation tables and followed TCP streams, parsed, for the flow tests. */
import { execFileSync } from 'node:child_process';
import type { Flow } from '../../lib';

export interface TsharkConversation {
  /** "address:port" (or the address alone for ipv4/ipv6) of each side, as tshark prints it. */
  a: string;
  b: string;
  /** Frames and bytes from a to b, and from b to a. Bytes are as printed ("301 kB"), tshark 4.0 rounds them. */
  aToB: { frames: number; bytes: string };
  bToA: { frames: number; bytes: string };
}

const run = (args: string[]): string => execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });

/** One tshark pass over file for the conversation tables of kinds (tcp, udp, ipv4, ipv6). */
export function tsharkConversations(file: string, kinds: string[]): Record<string, TsharkConversation[]> {
  const out = run(['-n', '-r', file, '-q', ...kinds.flatMap((k) => ['-z', `conv,${k}`])]);
  const tables: Record<string, TsharkConversation[]> = {};
  let current: TsharkConversation[] | null = null;
  for (const line of out.split('\n')) {
    const title = /^(TCP|UDP|IPv4|IPv6) Conversations/.exec(line);
    if (title) {
      current = tables[title[1].toLowerCase()] = [];
      continue;
    }
    const m = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)/.exec(line);
    if (m && current !== null) current.push({ a: m[1], b: m[2], bToA: { frames: Number(m[3]), bytes: m[4] }, aToB: { frames: Number(m[5]), bytes: m[6] } });
  }
  return tables;
}

/** How tshark 4.0 prints a byte count in its conversation tables (format_size: divided by 1000 while at least 10,000). */
export function tsharkSize(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 10000 && u < units.length - 1) {
    n = Math.floor(n / 1000);
    u++;
  }
  return `${n} ${units[u]}`;
}

/** What one tshark fields pass says of a trace's TCP and UDP packets. */
export interface TsharkPackets {
  /** Exact frames and frame bytes per direction: "tcp src:port>dst:port" → [frames, bytes]. */
  directions: Map<string, [number, number]>;
  /** tcp.stream of each connection, by its endpoints (pair()). */
  streams: Map<string, number>;
}

export function tsharkPackets(file: string): TsharkPackets {
  const fields = ['tcp.stream', 'ip.src', 'ipv6.src', 'tcp.srcport', 'udp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport', 'udp.dstport', 'frame.len'];
  const lines = run(['-n', '-r', file, '-Y', 'tcp || udp', '-T', 'fields', '-E', 'separator=,', ...fields.flatMap((f) => ['-e', f])]);
  const directions = new Map<string, [number, number]>();
  const streams = new Map<string, number>();
  for (const line of lines.split('\n')) {
    if (line === '') continue;
    const [stream, s4, s6, tsp, usp, d4, d6, tdp, udp, len] = line.split(',');
    // IP in IP lists the outer and inner addresses: the last is the innermost.
    const src = ep((s4 || s6).split(';').pop()!, tsp || usp);
    const dst = ep((d4 || d6).split(';').pop()!, tdp || udp);
    const key = `${stream === '' ? 'udp' : 'tcp'} ${src}>${dst}`;
    const t = directions.get(key) ?? [0, 0];
    t[0]++;
    t[1] += Number(len);
    directions.set(key, t);
    if (stream !== '') streams.set(pair(src, dst), Number(stream));
  }
  return { directions, streams };
}

/** address:port as tshark writes an endpoint (IPv6 unbracketed). */
export const ep = (address: string, port: number | string): string => `${address}:${port}`;

export interface FollowedStream {
  node0: string;
  node1: string;
  /** Each node's bytes in order, tshark's "[N bytes missing in capture file]\0" markers included. */
  bytes: [Buffer, Buffer];
}

/** follow,tcp,raw for every stream index given, in one tshark pass. */
export function tsharkFollow(file: string, streams: number[]): Map<number, FollowedStream> {
  return parseFollow(run(['-n', '-r', file, '-q', ...streams.flatMap((n) => ['-z', `follow,tcp,raw,${n}`])]));
}

/** The blocks of follow,tcp,raw output (tshark's, or wirecap follow --format raw), by stream index ("Filter: tcp.stream eq N"). */
export function parseFollow(out: string): Map<number, FollowedStream> {
  const result = new Map<number, FollowedStream>();
  for (const block of out.split(/^=+$/m)) {
    const filter = /Filter: tcp\.stream eq (\d+)/.exec(block);
    if (!filter) continue;
    // IPv6 nodes are written [address]:port.
    const node0 = /Node 0: (\S+)/.exec(block)![1].replace(/^\[(.*)\]/, '$1');
    const node1 = /Node 1: (\S+)/.exec(block)![1].replace(/^\[(.*)\]/, '$1');
    const parts: [Buffer[], Buffer[]] = [[], []];
    for (const line of block.split('\n')) {
      if (!/^\t?[0-9a-f]+$/.test(line)) continue;
      parts[line.startsWith('\t') ? 1 : 0].push(Buffer.from(line.trim(), 'hex'));
    }
    result.set(Number(filter[1]), { node0, node1, bytes: [Buffer.concat(parts[0]), Buffer.concat(parts[1])] });
  }
  return result;
}

/** tshark's marker for a hole in a followed stream. */
export const missing = (n: number): Buffer => Buffer.from(`[${n} bytes missing in capture file]\0`);

/** A flow's endpoints as tshark writes them: client first. */
export function endpoints(flow: Flow): [string, string] {
  return [ep(flow.key.src, flow.key.srcPort), ep(flow.key.dst, flow.key.dstPort)];
}

export const pair = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
