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
   * pcapng files: the packet's interface, an index into
   * CaptureFile.interfaces (its link type is that interface's). Absent for
   * pcap files, live captures, and files libpcap reads (see openOffline()).
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
  /** pcapng files: each packet's interface (see Packet.interface); null otherwise. */
  readonly interfaces: Uint32Array | null;

  /**
   * meta holds count int64 timestamps, then count uint32 caplens, lens,
   * offsets and interfaces; tagged: the interfaces are a pcapng file's.
   */
  constructor(data: Buffer, meta: ArrayBuffer, count: number, tagged = false) {
    this.count = count;
    this.data = data;
    this.timestamps = new BigInt64Array(meta, 0, count);
    this.caplens = new Uint32Array(meta, 8 * count, count);
    this.lens = new Uint32Array(meta, 12 * count, count);
    this.offsets = new Uint32Array(meta, 16 * count, count);
    this.interfaces = tagged ? new Uint32Array(meta, 20 * count, count) : null;
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
