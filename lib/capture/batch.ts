/** One captured packet. `data` is a view into its batch's memory, not a copy. */
export interface Packet {
  /** Nanoseconds since the Unix epoch (microsecond captures end in 000). */
  timestamp: bigint;
  /** Bytes captured (data.length). */
  caplen: number;
  /** Bytes on the wire. */
  len: number;
  data: Buffer;
  /**
   * Files with several pcapng interfaces: the packet's, an index into
   * CaptureFile.interfaces. Absent otherwise.
   */
  interface?: number;
}

/**
 * Packets as the capture thread hands them over: one contiguous buffer and
 * typed arrays of headers, index i describing packet i.
 */
export class PacketBatch implements Iterable<Packet> {
  readonly count: number;
  /**
   * The packets' bytes: packet i starts at offsets[i]. A live capture puts
   * them back to back; a file's batch is a piece of the file, with its
   * record headers between the packets.
   */
  readonly data: Buffer;
  /** Nanoseconds since the Unix epoch. */
  readonly timestamps: BigInt64Array;
  readonly caplens: Uint32Array;
  readonly lens: Uint32Array;
  /** Where each packet starts in data. */
  readonly offsets: Uint32Array;
  /** @internal set by a CaptureFile whose packets come from several interfaces (see Packet.interface). */
  interfaces: Uint32Array | null = null;

  /** meta holds count int64 timestamps, then count uint32 caplens, lens and offsets. */
  constructor(data: Buffer, meta: ArrayBuffer, count: number) {
    this.count = count;
    this.data = data;
    this.timestamps = new BigInt64Array(meta, 0, count);
    this.caplens = new Uint32Array(meta, 8 * count, count);
    this.lens = new Uint32Array(meta, 12 * count, count);
    this.offsets = new Uint32Array(meta, 16 * count, count);
  }

  packet(i: number): Packet {
    const offset = this.offsets[i];
    const caplen = this.caplens[i];
    const packet: Packet = {
      timestamp: this.timestamps[i],
      caplen,
      len: this.lens[i],
      data: this.data.subarray(offset, offset + caplen),
    };
    if (this.interfaces !== null) packet.interface = this.interfaces[i];
    return packet;
  }

  *[Symbol.iterator](): Iterator<Packet> {
    for (let i = 0; i < this.count; i++) yield this.packet(i);
  }
}
