'use strict';
// Writes bench/flows' 2 M-packet read trace: the size of bench/read's trace,
// but traffic a flow table meets on a real link, where bench/read's frames
// (every byte the packet's index) are 99 % broken IPv4 fragments. Ethernet,
// microsecond pcap, packets 13 µs apart, seeded. 2,000 conversations are
// open at once, their packets interleaved at random; one ends, a new one
// starts:
//   - 70 % TCP connections (a quarter over IPv6): handshake, 1-8 requests of
//     100-1,400 bytes each answered by 1-40 segments of 1,448 bytes with an
//     ACK from the client every second segment, then FIN both ways;
//   - 25 % DNS over UDP: one query, one answer;
//   - 5 % long UDP flows (media-like): 50-400 datagrams of 160-1,200 bytes
//     both ways.
// IPv4 headers are whole, DF set, never fragments; every checksum is right.
//   node bench/make-flows-read-trace.js <file> [packets=2000000]
const fs = require('node:fs');
const { PcapRecords, pcapHeader, tick } = require('./pcap-writer');

const [file, count = '2000000'] = process.argv.slice(2);
const packets = Number(count);
let seed = 2024;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/** The Internet checksum of f[from, to) (an even start), starting from sum. */
function checksum(f, from, to, sum) {
  for (let k = from; k + 1 < to; k += 2) sum += (f[k] << 8) | f[k + 1];
  if ((to - from) & 1) sum += f[to - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

let made = 0;
/** A new conversation: its endpoints and the packets it will send, as [fromClient, flags (TCP) or -1 (UDP), payload bytes]. */
function conversation() {
  made++;
  const r = random();
  const v6 = random() < 0.25;
  const c = { v6, client: made, server: int(1, 200), cport: int(1024, 65535), sport: 0, tcp: r < 0.7, steps: [], at: 0, seq: [int(0, 2 ** 32 - 1), int(0, 2 ** 32 - 1)] };
  const s = c.steps;
  if (c.tcp) {
    c.sport = [443, 80, 22, 8080][int(0, 3)];
    s.push([1, SYN, 0], [0, SYN | ACK, 0], [1, ACK, 0]);
    for (let q = int(1, 8); q > 0; q--) {
      s.push([1, PSH | ACK, int(100, 1400)]);
      const answer = int(1, 40);
      for (let k = 1; k <= answer; k++) {
        s.push([0, k === answer ? PSH | ACK : ACK, 1448]);
        if (k % 2 === 0 || k === answer) s.push([1, ACK, 0]);
      }
    }
    s.push([1, FIN | ACK, 0], [0, FIN | ACK, 0], [1, ACK, 0]);
  } else if (r < 0.95) {
    c.sport = 53;
    s.push([1, -1, int(28, 60)], [0, -1, int(60, 500)]);
  } else {
    c.sport = int(10000, 20000);
    for (let k = int(50, 400); k > 0; k--) s.push([int(0, 1), -1, int(160, 1200)]);
  }
  return c;
}

const fd = fs.openSync(file, 'w');
fs.writeSync(fd, pcapHeader());
const out = new PcapRecords(fd);
const active = Array.from({ length: 2000 }, conversation);
let identification = 0;
for (let i = 0; i < packets; i++) {
  const slot = int(0, active.length - 1);
  const c = active[slot];
  const [fromClient, flags, payload] = c.steps[c.at++];
  if (c.at === c.steps.length) active[slot] = conversation();
  const ipLength = c.v6 ? 40 : 20;
  const transportLength = flags < 0 ? 8 : 20;
  const size = 14 + ipLength + transportLength + payload;
  const f = out.record(...tick(i), size);
  f.fill(0x61 + (i % 26), 0, size);
  f.writeUInt32BE(0x02000000, 0);
  f.writeUInt16BE(fromClient ? 1 : 2, 4);
  f.writeUInt32BE(0x02000000, 6);
  f.writeUInt16BE(fromClient ? 2 : 1, 10);
  const proto = flags < 0 ? 17 : 6;
  const t = 14 + ipLength;
  if (c.v6) {
    f.writeUInt16BE(0x86dd, 12);
    f.writeUInt32BE(0x60000000, 14);
    f.writeUInt16BE(transportLength + payload, 18);
    f[20] = proto;
    f[21] = 64;
    // 2001:db8::client and 2001:db8:1::server.
    const a = fromClient ? 22 : 38;
    const b = fromClient ? 38 : 22;
    f.fill(0, 22, 54);
    f.writeUInt32BE(0x20010db8, a);
    f.writeUInt32BE(c.client, a + 12);
    f.writeUInt32BE(0x20010db8, b);
    f.writeUInt16BE(1, b + 4);
    f.writeUInt32BE(c.server, b + 12);
  } else {
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    f[15] = 0;
    f.writeUInt16BE(ipLength + transportLength + payload, 16);
    f.writeUInt16BE((identification = (identification + 1) & 0xffff), 18);
    f.writeUInt16BE(0x4000, 20); // DF
    f[22] = 64;
    f[23] = proto;
    f.writeUInt16BE(0, 24);
    // 10.x.y.z clients, 192.0.2.x servers.
    const client = (0x0a000000 | c.client) >>> 0;
    const server = (0xc0000200 | c.server) >>> 0;
    f.writeUInt32BE(fromClient ? client : server, 26);
    f.writeUInt32BE(fromClient ? server : client, 30);
    f.writeUInt16BE(checksum(f, 14, 34, 0), 24);
  }
  f.writeUInt16BE(fromClient ? c.cport : c.sport, t);
  f.writeUInt16BE(fromClient ? c.sport : c.cport, t + 2);
  if (flags < 0) {
    f.writeUInt16BE(8 + payload, t + 4);
    f.writeUInt16BE(0, t + 6);
    // DNS: a header with no records (the rest is padding), so the answer decodes.
    if (c.sport === 53) {
      f.fill(0, t + 8, t + 20);
      f.writeUInt16BE(c.cport, t + 8);
      f.writeUInt16BE(fromClient ? 0x0100 : 0x8180, t + 10);
    }
  } else {
    const me = fromClient ? 0 : 1;
    f.writeUInt32BE(c.seq[me], t + 4);
    f.writeUInt32BE((flags & ACK) !== 0 ? c.seq[1 - me] : 0, t + 8);
    f.writeUInt16BE(0x5000 | flags, t + 12);
    f.writeUInt16BE(65535, t + 14);
    f.writeUInt32BE(0, t + 16);
    c.seq[me] = (c.seq[me] + payload + ((flags & (SYN | FIN)) !== 0 ? 1 : 0)) >>> 0;
  }
  // The pseudo-header: addresses, protocol, length.
  const addresses = c.v6 ? 22 : 26;
  const pseudo = checksum(f, addresses, t, proto + size - t);
  f.writeUInt16BE(checksum(f, t, size, 0xffff - pseudo) || (flags < 0 ? 0xffff : 0), t + (flags < 0 ? 6 : 16));
}
out.end();
fs.closeSync(fd);
console.log(`${file}: ${packets} packets, ${made} conversations begun`);
