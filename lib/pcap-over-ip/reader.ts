/**
 * Reading pcap-over-IP: a TCP connection that carries a pcap file (header,
 * then records), as servePcap(), Arkime's and NetworkMiner's senders and
 * `tcpdump -w - | nc -l` give it. The peer is untrusted: a record longer
 * than 262144 bytes or a header that is not pcap's ends the read with
 * EBADFORMAT; at most one record and one chunk of the socket are held.
 */
import net from 'node:net';
import { Packet } from '../capture/batch';
import { packetFilter } from '../capture/packet-filter';
import { AbortError, WirecapError } from '../core/errors';
import { checkFilter, checkInteger, checkKeys, checkObject, checkSignal, checkString } from '../core/validate';

const MAX_CAPLEN = 262144;
const MAGICS: Record<number, { littleEndian: boolean; nano: boolean }> = {
  0xa1b2c3d4: { littleEndian: false, nano: false },
  0xd4c3b2a1: { littleEndian: true, nano: false },
  0xa1b23c4d: { littleEndian: false, nano: true },
  0x4d3cb2a1: { littleEndian: true, nano: true },
};

export interface PcapStreamOptions {
  /** BPF filter, compiled by libpcap for the stream's link type. */
  filter?: string;
  /** Give up connecting (and on the file header) after this long (default 10000 ms): ECONNREFUSED. */
  connectTimeoutMs?: number;
  /** Aborting closes the connection: the iterator then throws an AbortError. */
  signal?: AbortSignal;
}

/** An open pcap-over-IP connection: iterate it for packets. */
export class PcapStream implements AsyncIterable<Packet> {
  /** tcp://host:port */
  readonly device: string;
  readonly linktype: number;
  readonly snaplen: number;
  readonly precision: 'micro' | 'nano';
  #socket: net.Socket;
  #chunks: AsyncIterator<Buffer>;
  #pending: Buffer;
  #little: boolean;
  #matches: ((p: Packet) => boolean) | null;

  /** @internal use openPcapStream() */
  constructor(device: string, socket: net.Socket, chunks: AsyncIterator<Buffer>, header: Buffer, rest: Buffer, filter: string | undefined) {
    const magic = MAGICS[header.readUInt32BE(0)];
    if (magic === undefined) throw new WirecapError(`${device} does not send a pcap stream (magic 0x${header.readUInt32BE(0).toString(16)}; pcapng is not pcap-over-IP)`, 'EBADFORMAT');
    this.device = device;
    this.#socket = socket;
    this.#chunks = chunks;
    this.#pending = rest;
    this.#little = magic.littleEndian;
    this.precision = magic.nano ? 'nano' : 'micro';
    this.snaplen = this.#u32(header, 16);
    this.linktype = this.#u32(header, 20) & 0x03ffffff; // the upper bits carry FCS information
    this.#matches = filter ? packetFilter(filter, this.linktype, Math.min(Math.max(this.snaplen, 1), MAX_CAPLEN)) : null;
  }

  #u32(b: Buffer, at: number): number {
    return this.#little ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }

  /** Packets until the sender closes (a record cut short: ETRUNCATED) or close(). */
  async *[Symbol.asyncIterator](): AsyncIterator<Packet> {
    const scale = this.precision === 'nano' ? 1n : 1000n;
    try {
      for (;;) {
        const head = await this.#take(16);
        if (head === null) return;
        const caplen = this.#u32(head, 8);
        if (caplen > MAX_CAPLEN) throw new WirecapError(`${this.device}: a record of ${caplen} bytes (the most accepted is ${MAX_CAPLEN})`, 'EBADFORMAT');
        const data = caplen === 0 ? Buffer.alloc(0) : await this.#take(caplen);
        if (data === null) throw new WirecapError(`${this.device}: the stream ended inside a record`, 'ETRUNCATED');
        const packet: Packet = {
          timestamp: BigInt(this.#u32(head, 0)) * 1_000_000_000n + BigInt(this.#u32(head, 4)) * scale,
          caplen,
          len: Math.max(this.#u32(head, 12), caplen),
          data,
        };
        if (this.#matches === null || this.#matches(packet)) yield packet;
      }
    } finally {
      this.close();
    }
  }

  /** The next n bytes, or null at a clean end before any of them. */
  async #take(n: number): Promise<Buffer | null> {
    while (this.#pending.length < n) {
      const next = await this.#chunks.next();
      if (next.done) {
        if (this.#pending.length === 0) return null;
        throw new WirecapError(`${this.device}: the stream ended inside a record`, 'ETRUNCATED');
      }
      this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    }
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    this.#socket.destroy();
  }
}

/** host:port from 'tcp://host:port', 'host:port' or '[v6]:port'. */
function parseTarget(target: string): { host: string; port: number } {
  const m = /^(?:tcp:\/\/)?(?:\[([^\]]+)\]|([^:/]+)):(\d{1,5})$/.exec(target);
  if (m === null || Number(m[3]) > 65535) throw new WirecapError(`bad pcap-over-IP address '${target}': use tcp://host:port`, 'EINVAL');
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/**
 * Connects to a pcap-over-IP sender (tcp://host:port) and reads its file
 * header. ECONNREFUSED when nobody answers within connectTimeoutMs;
 * EBADFORMAT when what comes is not a pcap stream.
 */
export async function openPcapStream(target: string, options?: PcapStreamOptions): Promise<PcapStream> {
  const o = checkObject(options, 'options');
  checkKeys(o, ['filter', 'connectTimeoutMs', 'signal'], 'openPcapStream');
  const { host, port } = parseTarget(checkString(target, 'target'));
  const filter = o.filter === undefined || o.filter === '' ? undefined : checkFilter(o.filter);
  const timeoutMs = o.connectTimeoutMs === undefined ? 10000 : checkInteger(o.connectTimeoutMs, 'connectTimeoutMs', 1, 2 ** 31);
  const signal = checkSignal(o.signal);
  if (signal?.aborted) throw new AbortError(signal.reason);
  const device = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const socket = net.connect({ host, port });
  const onAbort = (): void => void socket.destroy(new AbortError(signal!.reason));
  signal?.addEventListener('abort', onAbort, { once: true });
  socket.once('close', () => signal?.removeEventListener('abort', onAbort));
  const timer = setTimeout(() => socket.destroy(new WirecapError(`${device}: no pcap stream within ${timeoutMs} ms`, 'ECONNREFUSED')), timeoutMs);
  try {
    const chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let got = Buffer.alloc(0);
    while (got.length < 24) {
      const next = await chunks.next();
      if (next.done) throw new WirecapError(`${device} closed before sending a pcap header`, 'EBADFORMAT');
      got = Buffer.concat([got, next.value]);
    }
    return new PcapStream(device, socket, chunks, got.subarray(0, 24), got.subarray(24), filter);
  } catch (error) {
    socket.destroy();
    if (error instanceof WirecapError || (error as Error).name === 'AbortError') throw error;
    const e = error as NodeJS.ErrnoException;
    throw new WirecapError(`cannot read ${device}: ${e.message}`, e.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ECONNRESET');
  } finally {
    clearTimeout(timer);
  }
}
