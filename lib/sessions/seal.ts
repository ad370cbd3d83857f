/**
 * Builds protected QUIC v1 Initial packets (RFC 9001 5), the inverse of
 * quic.ts's openInitial: for the tests (tshark must open what this seals),
 * the fuzzer (mutated hellos inside valid packets), and anyone generating
 * QUIC Initial traffic.
 */
import { nodeCrypto } from '../core/crypto';
import { initialKeys } from './quic';

const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const varint = (v: number): Buffer => (v < 64 ? Buffer.from([v]) : v < 16384 ? u16(0x4000 | v) : Buffer.from([0x80 | (v >>> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]));

/** A CRYPTO frame. */
export function cryptoFrame(offset: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([6]), varint(offset), varint(data.length), data]);
}

/**
 * A protected QUIC v1 Initial packet (RFC 9001 5): `frames` padded to
 * `minSize` bytes of datagram, a 4-byte packet number, keys from `keyDcid`.
 */
export function sealInitial(options: { keyDcid: Buffer; dcid: Buffer; scid: Buffer; side: 'client' | 'server'; pn: number; frames: Buffer; minSize?: number }): Buffer {
  const keys = initialKeys(options.keyDcid, options.side);
  const headStart = Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1, options.dcid.length]), options.dcid, Buffer.from([options.scid.length]), options.scid, Buffer.from([0])]);
  let payload = options.frames;
  const fixed = headStart.length + 2 + 4 + 16;
  const min = options.minSize ?? 0;
  if (fixed + payload.length < min) payload = Buffer.concat([payload, Buffer.alloc(min - fixed - payload.length)]);
  const pnBytes = Buffer.alloc(4);
  pnBytes.writeUInt32BE(options.pn);
  const header = Buffer.concat([headStart, u16(0x4000 | (4 + payload.length + 16)), pnBytes]);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 4; i++) nonce[11 - i] ^= pnBytes[3 - i];
  const gcm = nodeCrypto().createCipheriv('aes-128-gcm', keys.key, nonce);
  gcm.setAAD(header);
  const sealed = Buffer.concat([gcm.update(payload), gcm.final(), gcm.getAuthTag()]);
  const packet = Buffer.concat([header, sealed]);
  const pnOffset = header.length - 4;
  const mask = nodeCrypto().createCipheriv('aes-128-ecb', keys.hp, null).setAutoPadding(false).update(packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < 4; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}
