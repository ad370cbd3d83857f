'use strict';
// Writes the read benchmark's synthetic trace: Ethernet/IPv4/UDP frames of
// sizes cycling 64..1514, microsecond pcap, streamed in large chunks.
// With --carried, the seek benchmark's trace full of carried traces instead:
// a quarter of the records each hold a whole pcap file (2-16 KiB of small
// packets whose times lie 20-60 s before or 1-40 s after the carrier's), and
// runs of 8-32 full-size packets copy consecutive slices of another pcap of
// the same time span, as a trace copied over the network would.
//   node bench/make-trace.js <file> [packets=2000000] [--carried]
const fs = require('node:fs');
const { PcapRecords, pcapHeader, tick } = require('./pcap-writer');

const [file, count = '2000000'] = process.argv.slice(2).filter((a) => a !== '--carried');
const carried = process.argv.includes('--carried');
const packets = Number(count);
const fd = fs.openSync(file, 'w');
const header = pcapHeader();
fs.writeSync(fd, header);

const out = new PcapRecords(fd);
if (carried) writeCarried();
else {
  for (let i = 0; i < packets; i++) {
    const size = 64 + ((i * 7) % (1514 - 64 + 1));
    const frame = out.record(...tick(i), size);
    frame.fill(i & 0xff);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(size - 14, 16);
    frame[23] = 17; // UDP
    frame.writeUInt32BE(0x0a000001, 26);
    frame.writeUInt32BE(0x0a000002, 30);
    frame.writeUInt16BE(1000 + (i % 50), 34);
    frame.writeUInt16BE(53, 36);
  }
}
out.end();
fs.closeSync(fd);

/** Appends one record to the output. */
function record(ts, data) {
  data.copy(out.record(Number(ts / 1_000_000_000n), Number((ts % 1_000_000_000n) / 1000n), data.length));
}

function writeCarried() {
  let seed = 4242;
  const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const us = (n) => BigInt(Math.floor(n)) * 1000n;
  // A pcap file (the outer file's own byte order and resolution) of small packets from start, up to gap µs apart.
  const pcapFile = (bytes, start, gap) => {
    const parts = [header];
    let ts = start;
    for (let n = 24; n < bytes; ) {
      ts += us(1 + random() * gap);
      const data = Buffer.alloc(40 + Math.floor(random() * 160), n & 0xff);
      const h = Buffer.alloc(16);
      h.writeUInt32LE(Number(ts / 1_000_000_000n), 0);
      h.writeUInt32LE(Number((ts % 1_000_000_000n) / 1000n), 4);
      h.writeUInt32LE(data.length, 8);
      h.writeUInt32LE(data.length, 12);
      parts.push(h, data);
      n += 16 + data.length;
    }
    return Buffer.concat(parts);
  };
  const frameHeader = Buffer.alloc(54, 0x11);
  frameHeader.writeUInt16BE(0x0800, 12);
  frameHeader[14] = 0x45;
  const t0 = 1_700_000_000_000_000_000n;
  const span = us(packets * 1000); // records 1 ms apart on average
  const copied = pcapFile(32 << 20, t0, Number(span / 1000n) / ((32 << 20) / 136) * 2);
  let cursor = 0;
  let ts = t0;
  for (let i = 0; i < packets; ) {
    const r = random();
    if (r < 0.05) {
      for (let k = 8 + Math.floor(random() * 25); k > 0 && i < packets; k--, i++) {
        if (cursor + 1460 > copied.length) cursor = 0;
        record((ts += us(1 + random() * 2000)), Buffer.concat([frameHeader, copied.subarray(cursor, cursor + 1460)]));
        cursor += 1460;
      }
      continue;
    }
    ts += us(1 + random() * 2000);
    if (r < 0.3) {
      const shift = random() < 0.5 ? -us((20 + random() * 40) * 1e6) : us((1 + random() * 40) * 1e6);
      const start = ts + shift < t0 ? t0 : ts + shift;
      const file = pcapFile(2048 + random() * 14336, start, 5000);
      record(ts, random() < 0.5 ? file : Buffer.concat([frameHeader, file]));
    } else {
      const data = Buffer.alloc(64 + Math.floor(random() * 1451), i & 0xff);
      frameHeader.copy(data);
      record(ts, data);
    }
    i++;
  }
}
