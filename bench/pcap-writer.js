'use strict';
// How the bench scripts write their microsecond pcap traces.
const fs = require('node:fs');

/** The 24-byte global header of a little-endian microsecond pcap file (the bench traces' format). */
function pcapHeader(linktype = 1, snaplen = 262144) {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(snaplen, 16);
  header.writeUInt32LE(linktype, 20);
  return header;
}

/**
 * A microsecond pcap's records, appended to fd through an 8 MiB chunk:
 * record() reserves one and returns its frame to fill before the next call;
 * end() writes what is left.
 */
class PcapRecords {
  constructor(fd) {
    this.fd = fd;
    this.chunk = Buffer.alloc(8 << 20);
    this.used = 0;
  }

  /** A record of size bytes captured whole at seconds + micros. */
  record(seconds, micros, size) {
    if (this.used + 16 + size > this.chunk.length) this.end();
    const at = this.used;
    this.chunk.writeUInt32LE(seconds, at);
    this.chunk.writeUInt32LE(micros, at + 4);
    this.chunk.writeUInt32LE(size, at + 8);
    this.chunk.writeUInt32LE(size, at + 12);
    this.used = at + 16 + size;
    return this.chunk.subarray(at + 16, at + 16 + size);
  }

  end() {
    fs.writeSync(this.fd, this.chunk, 0, this.used);
    this.used = 0;
  }
}

/** The bench traces' clock: packet i (from 0) is 13 µs after the one before, the first at 1,700,000,000 s + 13 µs. */
function tick(i) {
  const t = (i + 1) * 13;
  return [1_700_000_000 + Math.floor(t / 1e6), t % 1e6];
}

module.exports = { PcapRecords, pcapHeader, tick };
