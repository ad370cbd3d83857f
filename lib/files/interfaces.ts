/**
 * Which pcapng interface each packet of a file came from. libpcap reads a
 * pcapng file with several interfaces (of one link type) but never says
 * which one a packet belongs to, so this walks the file's blocks beside it
 * and pairs each delivered packet with the next record holding the same
 * lengths and bytes. A filter may skip records, never reorder them, and it
 * decides on a record's bytes and lengths alone: a record equal to the packet
 * that was skipped would have been delivered too, so the first equal one is
 * the packet's own.
 */
import fs from 'node:fs';
import { PacketBatch } from '../capture/batch';

const CHUNK = 1 << 20;

export class InterfaceTagger {
  #fd: number;
  #little = true;
  #window = Buffer.alloc(0);
  #windowAt = 0; // file offset of #window[0]
  #at: number; // file offset of the next block

  /** path's blocks from offset start (a record found by a seek; 0: the file's start). */
  constructor(path: string, start: number) {
    this.#fd = fs.openSync(path, 'r');
    const head = Buffer.alloc(12);
    fs.readSync(this.#fd, head, 0, 12, 0);
    this.#little = head.readUInt32LE(8) === 0x1a2b3c4d;
    this.#at = start;
  }

  /** The interface index of each of batch's packets (0xffffffff: no record matched). */
  tag(batch: PacketBatch): Uint32Array {
    const tags = new Uint32Array(batch.count).fill(0xffffffff);
    for (let i = 0; i < batch.count; i++) {
      const data = batch.data.subarray(batch.offsets[i], batch.offsets[i] + batch.caplens[i]);
      for (let record = this.#next(); record !== null; record = this.#next()) {
        if (record.caplen === batch.caplens[i] && record.len === batch.lens[i] && record.data.equals(data)) {
          tags[i] = record.iface;
          break;
        }
      }
    }
    return tags;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  /** The next packet record, or null at the end of the file. */
  #next(): { iface: number; caplen: number; len: number; data: Buffer } | null {
    for (;;) {
      const head = this.#bytes(this.#at, 8);
      if (head === null) return null;
      const type = this.#u32(head, 0);
      const length = this.#u32(head, 4);
      if (length < 12) return null;
      const block = this.#bytes(this.#at, length);
      if (block === null) return null;
      this.#at += length;
      if (type === 0x0a0d0d0a) this.#little = block.readUInt32LE(8) === 0x1a2b3c4d;
      if (type === 6 || type === 2) {
        // EPB: interface u32; obsolete PB: interface u16, drops u16.
        const iface = type === 6 ? this.#u32(block, 8) : this.#little ? block.readUInt16LE(8) : block.readUInt16BE(8);
        const caplen = this.#u32(block, 20);
        return { iface, caplen, len: this.#u32(block, 24), data: block.subarray(28, 28 + caplen) };
      }
      if (type === 3) {
        const len = this.#u32(block, 8);
        const caplen = Math.min(len, length - 16);
        return { iface: 0, caplen, len, data: block.subarray(12, 12 + caplen) };
      }
    }
  }

  #u32(b: Buffer, o: number): number {
    return this.#little ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  /** n bytes of the file from offset, or null past its end. */
  #bytes(offset: number, n: number): Buffer | null {
    const end = offset + n;
    if (offset < this.#windowAt || end > this.#windowAt + this.#window.length) {
      const window = Buffer.alloc(Math.max(CHUNK, n));
      const got = fs.readSync(this.#fd, window, 0, window.length, offset);
      this.#window = window.subarray(0, got);
      this.#windowAt = offset;
      if (got < n) return null;
    }
    return this.#window.subarray(offset - this.#windowAt, end - this.#windowAt);
  }
}
