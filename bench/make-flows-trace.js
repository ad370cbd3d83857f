'use strict';
// Writes bench/flows' TCP trace: 12,000 connections (a third IPv6), all open at
// once (each lasts about 3 s of packet time, all start within 1 s), requests
// up to 3,000 bytes, responses up to 20,000, from the tests' seeded generator
// (test/helpers/conversations.js) with no impairment.
//   node bench/make-flows-trace.js <file> [connections=12000]
const fs = require('node:fs');
const { tcpConversations } = require('../test/helpers/conversations');
const { PcapRecords, pcapHeader } = require('./pcap-writer');

const [file, count = '12000'] = process.argv.slice(2);
const { frames } = tcpConversations({ seed: 24, connections: Number(count), spreadUs: 1_000_000, gapUs: 200_000, v6: 0.33, wrap: 0.1 });
const fd = fs.openSync(file, 'w');
const header = pcapHeader();
fs.writeSync(fd, header);
const out = new PcapRecords(fd);
for (const f of frames) {
  const us = f.timestamp / 1000n;
  f.data.copy(out.record(Number(us / 1_000_000n), Number(us % 1_000_000n), f.data.length));
}
out.end();
fs.closeSync(fd);
console.log(`${file}: ${frames.length} packets`);
