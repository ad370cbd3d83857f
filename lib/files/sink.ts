/**
 * Packets written from JavaScript (capture -w, consume from a time, extcap):
 * one file, standard output (-) or a FIFO, created at the first packet
 * with its link type, and flushed after every batch so a pipe's reader
 * sees each batch at once.
 */
import { WirecapError } from '../core/errors';
import { createWriter, PacketToWrite, Writer } from './writer';

export interface SinkFormat {
  linktype: number;
  snaplen: number;
  precision: 'micro' | 'nano';
}

export class PacketSink {
  readonly path: string;
  #format: 'pcap' | 'pcapng';
  #writer: Writer | null = null;
  #linktype = -1;
  packets = 0;
  /** Set when the reader of standard output went away (EPIPE): nothing more is written. */
  gone = false;

  constructor(path: string, format: 'pcap' | 'pcapng' = 'pcap') {
    this.path = path;
    this.#format = format;
  }

  /**
   * Writes one batch and flushes it. Returns false once the pipe's reader
   * has gone (the records it did not take are not counted); other write
   * errors throw. A batch of another link type than the first throws EPROTO.
   */
  writeBatch(format: SinkFormat, packets: Iterable<PacketToWrite>): boolean {
    if (this.gone) return false;
    if (this.#writer === null) {
      this.#writer = createWriter(this.path, { format: this.#format, linktype: format.linktype, snaplen: Math.max(format.snaplen, 1), precision: format.precision });
      this.#linktype = format.linktype;
    } else if (format.linktype !== this.#linktype) {
      throw new WirecapError(`link type ${format.linktype} where ${this.path} has ${this.#linktype}`, 'EPROTO');
    }
    try {
      for (const p of packets) this.#writer.write(p);
      this.#writer.flush();
    } catch (error) {
      if ((error as { code?: string }).code !== 'EPIPE') throw error;
      this.gone = true;
    }
    this.packets = this.#writer.stats().packets;
    return !this.gone;
  }

  close(): void {
    try {
      this.#writer?.close();
    } catch (error) {
      if ((error as { code?: string }).code !== 'EPIPE') throw error;
    }
  }
}
