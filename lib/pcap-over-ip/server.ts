/**
 * pcap-over-IP, as Arkime and NetworkMiner speak it: each TCP client gets
 * a pcap file header, then the records of every packet captured while it
 * is connected. servePcap() serves one capture to any number of clients.
 *
 * A slow client never holds the capture up: each has a bound of bytes
 * queued in its socket (clientBytes); a record that does not fit is
 * dropped for that client alone and counted. Records are never cut.
 */
import net from 'node:net';
import { Capture } from '../capture/capture';
import { PacketBatch } from '../capture/batch';
import { checkInteger, checkKeys, checkObject, checkString } from '../core/validate';
import { WirecapError } from '../core/errors';

export interface ServeOptions {
  /** default 0: any free port (server.port says which). */
  port?: number;
  /** default '127.0.0.1'. */
  host?: string;
  /** Bytes that may wait in one client's socket; past it its records are dropped (default 4 MiB). */
  clientBytes?: number;
}

export interface PcapClientStats {
  peer: string;
  /** Records written to its socket. */
  sent: number;
  /** Records dropped because its socket held clientBytes already. */
  dropped: number;
}

export interface PcapServeStats {
  /** Clients connected now. */
  clients: number;
  /** Clients since the start. */
  connections: number;
  /** Records written, to every client together. */
  sent: number;
  /** Records dropped for slow clients, every client together. */
  dropped: number;
}

interface Client extends PcapClientStats {
  socket: net.Socket;
}

/** A capture served over pcap-over-IP. done resolves when the capture has ended and the clients have their last records. */
export class PcapServer {
  readonly port: number;
  readonly done: Promise<PcapServeStats>;
  #server: net.Server;
  #clients = new Set<Client>();
  #totals = { connections: 0, sent: 0, dropped: 0 };
  #nano: boolean;

  /** @internal use servePcap() */
  constructor(server: net.Server, source: Capture, clientBytes: number) {
    this.#server = server;
    this.#nano = source.precision === 'nano';
    const header = fileHeader(source);
    this.port = (server.address() as net.AddressInfo).port;
    server.on('connection', (socket) => {
      const client: Client = { socket, peer: `${socket.remoteAddress}:${socket.remotePort}`, sent: 0, dropped: 0 };
      socket.setNoDelay(true);
      socket.on('error', () => socket.destroy()); // a client that breaks off is only a client gone
      socket.on('close', () => this.#leave(client));
      socket.on('data', () => {}); // pcap-over-IP clients send nothing; what they do send is read and ignored
      socket.write(header);
      this.#clients.add(client);
      this.#totals.connections++;
    });
    this.done = (async () => {
      try {
        for await (const batch of source.batches()) this.#send(batch, clientBytes);
      } finally {
        await this.close();
      }
      return this.stats();
    })();
  }

  #leave(client: Client): void {
    if (!this.#clients.delete(client)) return;
    this.#totals.sent += client.sent;
    this.#totals.dropped += client.dropped;
  }

  #send(batch: PacketBatch, clientBytes: number): void {
    if (batch.count === 0 || this.#clients.size === 0) return;
    let bytes = batch.count * 16;
    for (let i = 0; i < batch.count; i++) bytes += batch.caplens[i];
    const records = Buffer.allocUnsafe(bytes);
    const ends: number[] = [];
    let at = 0;
    for (let i = 0; i < batch.count; i++) {
      const t = batch.timestamps[i];
      records.writeUInt32LE(Number(t / 1_000_000_000n), at);
      records.writeUInt32LE(Math.floor(Number(t % 1_000_000_000n) / (this.#nano ? 1 : 1000)), at + 4);
      records.writeUInt32LE(batch.caplens[i], at + 8);
      records.writeUInt32LE(batch.lens[i], at + 12);
      at += 16 + batch.data.copy(records, at + 16, batch.offsets[i], batch.offsets[i] + batch.caplens[i]);
      ends.push(at);
    }
    for (const client of this.#clients) {
      // The longest run of whole records that fits in what the client may still queue.
      const room = clientBytes - client.socket.writableLength;
      let fit = 0;
      while (fit < ends.length && ends[fit] <= room) fit++;
      if (fit > 0) client.socket.write(records.subarray(0, ends[fit - 1]));
      client.sent += fit;
      client.dropped += batch.count - fit;
    }
  }

  /** Each connected client's counts. */
  clients(): PcapClientStats[] {
    return [...this.#clients].map(({ peer, sent, dropped }) => ({ peer, sent, dropped }));
  }

  stats(): PcapServeStats {
    let sent = this.#totals.sent;
    let dropped = this.#totals.dropped;
    for (const c of this.#clients) {
      sent += c.sent;
      dropped += c.dropped;
    }
    return { clients: this.#clients.size, connections: this.#totals.connections, sent, dropped };
  }

  /** Stops listening and ends every client's connection after what it has queued. Idempotent. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of this.#clients) c.socket.end();
    await closed;
  }
}

/** The pcap file header a client gets first: the capture's link type, snaplen and precision. */
function fileHeader(source: Capture): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(source.precision === 'nano' ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(source.snaplen, 16);
  header.writeUInt32LE(source.linktype, 20);
  return header;
}

/**
 * Serves source (a live capture, or a file opened with singleLinktype) on
 * host:port until it ends or close(). Resolves once listening; a port in
 * use is EINVAL naming it.
 */
export async function servePcap(source: Capture, options?: ServeOptions): Promise<PcapServer> {
  if (!(source instanceof Capture)) throw new WirecapError('servePcap takes a capture (openLive or openOffline)', 'EINVAL');
  const o = checkObject(options, 'options');
  checkKeys(o, ['port', 'host', 'clientBytes'], 'servePcap');
  const port = o.port === undefined ? 0 : checkInteger(o.port, 'port', 0, 65535);
  const host = o.host === undefined ? '127.0.0.1' : checkString(o.host, 'host');
  const clientBytes = o.clientBytes === undefined ? 4 * 2 ** 20 : checkInteger(o.clientBytes, 'clientBytes', 65536, 2 ** 31);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new WirecapError(`cannot serve pcap-over-IP on ${host}:${port}: ${error.message}`, 'EINVAL')));
    server.listen(port, host, resolve);
  });
  return new PcapServer(server, source, clientBytes);
}
