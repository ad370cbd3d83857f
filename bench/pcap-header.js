'use strict';
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

module.exports = { pcapHeader };
