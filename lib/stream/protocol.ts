/**
 * The PacketStreaming protocol (proto/packet_streaming.proto) on the wire:
 * the service definition for @grpc/grpc-js under a chosen package name, and
 * its one message through the protobufjs code generated from the .proto
 * (lib/stream/generated/, `npm run gen:proto`). The package name is only in
 * the gRPC path: the message bytes are the same under any protoPackage.
 *
 * Timestamps travel as seconds and microseconds: a nanosecond timestamp is
 * truncated to its microsecond (as libpcap's micro precision does).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { WirecapError } from '../core/errors';
import type * as Generated from './generated/packet_streaming';

/**
 * Options of wirecap's gRPC server and clients. Channelz off: nothing can
 * query it (the server and channels are wirecap's own), and it keeps trace
 * records and tracker objects for every channel, subchannel, socket and call.
 */
export const GRPC_OPTIONS = { 'grpc.enable_channelz': 0 } as const;

/** The proto package wirecap uses unless told otherwise. */
export const DEFAULT_PROTO_PACKAGE = 'wirecap.streaming';

/** A packet as the protocol carries it. */
export interface StreamedPacket {
  /** Nanoseconds since the epoch, a whole number of microseconds. */
  timestamp: bigint;
  caplen: number;
  len: number;
  data: Buffer;
}

/** What the collector's decoder yields: a packet, or why the bytes were not one. */
export type Decoded = StreamedPacket | { malformed: string };

type Messages = typeof Generated.wirecap.streaming;
let messages: Messages | null = null;
/**
 * The generated classes, loaded on first use: protobufjs and the generated
 * code add about 5 MB to every process that loads wirecap, most of which
 * never stream.
 */
function generated(): Messages {
  messages ??= (require('./generated/packet_streaming') as typeof Generated).wirecap.streaming;
  return messages;
}

/** Encodes one Packet message. data is caplen bytes. */
export function encodePacket(timestamp: bigint, len: number, data: Uint8Array): Buffer {
  const micros = Number(timestamp / 1000n); // exact: below 2^53 until the year 2255
  const tsSec = Math.floor(micros / 1e6);
  const header = { tsSec, tsUsec: micros - tsSec * 1e6, caplen: data.length, len };
  // Under Node, protobufjs' writer finishes into a Buffer, which @grpc/grpc-js needs.
  return generated().Packet.encode({ header, data: { data } }).finish() as Buffer;
}

/**
 * Decodes one Packet message; the generated decoder checks the wire format,
 * this checks what it cannot: caplen is the data's length, ts_usec below 1 s.
 */
export function decodePacket(buf: Buffer): Decoded {
  const { Packet, PacketHeader, PacketData } = generated();
  let message: Generated.wirecap.streaming.Packet;
  try {
    message = Packet.decode(buf);
  } catch (error) {
    return { malformed: (error as Error).message };
  }
  // An absent field is proto3's default: the generated classes hold those.
  const { tsSec, tsUsec, caplen, len } = (message.header ?? new PacketHeader()) as Generated.wirecap.streaming.PacketHeader;
  // Under Node, protobufjs decodes bytes as a Buffer over the message's own memory.
  const data = (message.data ?? new PacketData()).data as Buffer;
  if (tsUsec >= 1_000_000) return { malformed: `ts_usec ${tsUsec} is not below one second` };
  if (caplen !== data.length) return { malformed: `caplen ${caplen} but ${data.length} bytes of data` };
  return { timestamp: BigInt(tsSec) * 1_000_000_000n + BigInt(tsUsec) * 1000n, caplen, len, data };
}

/** The service definition for @grpc/grpc-js, under protoPackage. */
export function packetStreamingService(protoPackage: string): ServiceDefinition {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(protoPackage)) {
    throw new WirecapError(`protoPackage must be a protobuf package name such as ${DEFAULT_PROTO_PACKAGE}, got '${protoPackage}'`, 'EINVAL');
  }
  return {
    Run: {
      path: `/${protoPackage}.PacketStreaming/Run`,
      requestStream: true,
      responseStream: false,
      requestSerialize: (message: Buffer) => message,
      requestDeserialize: (bytes: Buffer): Decoded => decodePacket(bytes),
      // google.protobuf.Empty: no bytes.
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
      originalName: 'run',
    },
  };
}
