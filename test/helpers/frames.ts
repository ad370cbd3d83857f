/**
 * Ethernet frames for replay tests: IPv4/UDP-looking, with a sender MAC of
 * their own (02:00:00:72:65:70) so a capture on the peer keeps only them,
 * and their index in the UDP payload.
 */
import { TracePacket } from './trace';

export const FRAME_SOURCE_MAC = '02:00:00:72:65:70';
/** tcpdump's filter for these frames. */
export const FRAME_FILTER = ['ether', 'src', FRAME_SOURCE_MAC];

/** One frame of size bytes (at least 46) carrying index. */
export function frame(index: number, size: number): Buffer {
  const data = Buffer.alloc(size);
  data.fill(0xff, 0, 6);
  Buffer.from(FRAME_SOURCE_MAC.split(':').map((h) => parseInt(h, 16))).copy(data, 6);
  data.writeUInt16BE(0x0800, 12);
  data[14] = 0x45;
  data.writeUInt16BE(size - 14, 16);
  data[22] = 64;
  data[23] = 17;
  data.writeUInt32BE(index, 42);
  for (let j = 46; j < size; j++) data[j] = (index * 7 + j) & 0xff;
  return data;
}

/** n frames of cycling sizes (60 to 1514 bytes), gapNs apart from start. */
export function frames(n: number, gapNs: bigint, start = 1_700_000_000_000_000_000n): TracePacket[] {
  return Array.from({ length: n }, (_, i) => ({ timestamp: start + BigInt(i) * gapNs, data: frame(i, 60 + ((i * 131) % 1455)) }));
}

/** The index a frame carries. */
export function indexOf(data: Buffer | string): number {
  return typeof data === 'string' ? parseInt(data.slice(84, 92), 16) : data.readUInt32BE(42);
}
