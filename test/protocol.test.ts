// The PacketStreaming message codec: code generated from the .proto by
// protobufjs-cli, plus the checks the wire format cannot make.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodePacket, encodePacket } from '../lib/stream/protocol';
import { ROOT } from './helpers/traffic';

test('the committed lib/stream/generated/ is what `npm run gen:proto` makes from proto/packet_streaming.proto', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-gen-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-proto.js'), out]);
    const committed = path.join(ROOT, 'lib', 'stream', 'generated');
    expect(fs.readdirSync(out).sort()).toEqual(fs.readdirSync(committed).sort());
    for (const name of fs.readdirSync(out)) {
      expect(`${name}:\n${fs.readFileSync(path.join(committed, name), 'utf8')}`).toBe(`${name}:\n${fs.readFileSync(path.join(out, name), 'utf8')}`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a packet encodes and decodes to itself, its timestamp cut to the microsecond', () => {
  const data = Buffer.from('0123456789');
  expect(decodePacket(encodePacket(1_700_000_000_123_456_789n, 1514, data))).toEqual({ timestamp: 1_700_000_000_123_456_000n, caplen: 10, len: 1514, data });
});

test('absent fields are proto3 zeros: an empty message is an empty packet at the epoch', () => {
  expect(decodePacket(Buffer.alloc(0))).toEqual({ timestamp: 0n, caplen: 0, len: 0, data: Buffer.alloc(0) });
});

test('bytes that are not a Packet, caplen unlike the data and ts_usec of a second or more are each named', () => {
  const good = encodePacket(1_700_000_000_000_001_000n, 5, Buffer.from([1, 2, 3, 4, 5]));
  // Packet.header { ts_usec: 1000000 }
  const usec = Buffer.from([0x0a, 0x04, 0x10, 0xc0, 0x84, 0x3d]);
  // Packet.header { caplen: 10 }, Packet.data { data: 5 bytes }
  const mismatch = Buffer.from([0x0a, 0x02, 0x18, 0x0a, 0x12, 0x07, 0x0a, 0x05, 1, 2, 3, 4, 5]);
  expect(decodePacket(good.subarray(0, good.length - 2))).toEqual({ malformed: expect.stringMatching(/index out of range/) });
  // Field 3 with wire type 7, which does not exist.
  expect(decodePacket(Buffer.from([0x1f, 0x00]))).toEqual({ malformed: expect.stringMatching(/invalid wire type 7/) });
  expect(decodePacket(usec)).toEqual({ malformed: 'ts_usec 1000000 is not below one second' });
  expect(decodePacket(mismatch)).toEqual({ malformed: 'caplen 10 but 5 bytes of data' });
});
