/**
 * decode(): a packet's layers as plain objects, link layer first, for the
 * link types libpcap reports (capture.linktype). Never throws on the bytes:
 * a cut or malformed layer is the last one and says why.
 */
import { WirecapError } from '../core/errors';
import { link } from './link';
import type { Decoded } from './types';

export function decode(data: Uint8Array, linktype: number): Decoded {
  if (!(data instanceof Uint8Array)) throw new WirecapError('data must be a Buffer or Uint8Array', 'EINVAL');
  if (!Number.isInteger(linktype)) throw new WirecapError('linktype must be an integer (a DLT number)', 'EINVAL');
  const out: Decoded = { layers: [], payloadOffset: 0, payloadLength: 0 };
  link(data, data.length, linktype, out);
  return out;
}

export { PacketColumns } from './columns';
