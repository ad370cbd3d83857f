/**
 * BPF filters for packets that come from elsewhere than a capture (a
 * JetStream stream, a pcap-over-IP connection): compiled by libpcap for
 * one link type, run by pcap_offline_filter.
 */
import { binding } from '../core/binding';
import { checkFilter, checkInteger } from '../core/validate';

/** A predicate for packets of linktype; EFILTER when expr does not compile for it. */
export function packetFilter(expr: string, linktype: number, snaplen = 262144): (packet: { data: Uint8Array; len?: number }) => boolean {
  const compiled = new binding.PacketFilter(checkFilter(expr), checkInteger(linktype, 'linktype', 0, 0xffff), checkInteger(snaplen, 'snaplen', 1, 262144));
  return (packet) => {
    const data = Buffer.isBuffer(packet.data) ? packet.data : Buffer.from(packet.data.buffer, packet.data.byteOffset, packet.data.byteLength);
    return compiled.matches(data, packet.len ?? data.length);
  };
}
