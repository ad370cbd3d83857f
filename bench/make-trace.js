'use strict';
// Writes the read benchmark's synthetic trace: Ethernet/IPv4/UDP frames of
// sizes cycling 64..1514, microsecond pcap, streamed in large chunks.
//   node bench/make-trace.js <file> [packets=2000000]
const fs = require('node:fs');

const [file, count = '2000000'] = process.argv.slice(2);
const packets = Number(count);
const fd = fs.openSync(file, 'w');
const header = Buffer.alloc(24);
header.writeUInt32LE(0xa1b2c3d4, 0);
header.writeUInt16LE(2, 4);
header.writeUInt16LE(4, 6);
header.writeUInt32LE(262144, 16);
header.writeUInt32LE(1, 20);
fs.writeSync(fd, header);

const chunk = Buffer.alloc(8 << 20);
let used = 0;
let seconds = 1_700_000_000;
let micros = 0;
for (let i = 0; i < packets; i++) {
  const size = 64 + ((i * 7) % (1514 - 64 + 1));
  if (used + 16 + size > chunk.length) {
    fs.writeSync(fd, chunk, 0, used);
    used = 0;
  }
  micros += 13;
  if (micros >= 1_000_000) {
    seconds++;
    micros -= 1_000_000;
  }
  chunk.writeUInt32LE(seconds, used);
  chunk.writeUInt32LE(micros, used + 4);
  chunk.writeUInt32LE(size, used + 8);
  chunk.writeUInt32LE(size, used + 12);
  const frame = chunk.subarray(used + 16, used + 16 + size);
  frame.fill(i & 0xff);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(size - 14, 16);
  frame[23] = 17; // UDP
  frame.writeUInt32BE(0x0a000001, 26);
  frame.writeUInt32BE(0x0a000002, 30);
  frame.writeUInt16BE(1000 + (i % 50), 34);
  frame.writeUInt16BE(53, 36);
  used += 16 + size;
}
fs.writeSync(fd, chunk, 0, used);
fs.closeSync(fd);
