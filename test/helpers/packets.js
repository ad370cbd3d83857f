'use strict';
/**
 * A seeded generator of packets for the decoder's tests, its fuzzer and
 * its check against tshark: every link type and layer decode() knows, with
 * VLAN stacks, IPv4 options and fragments, IPv6 extension chains, TCP
 * options, DNS with compression over UDP and TCP, ICMPv6 neighbour
 * discovery, and packets cut short as a small snaplen would.
 * Plain JavaScript so that scripts/fuzz-decode.js can use it without a build.
 */

/** mulberry32: small, fast, good enough to pick test cases. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

const u16 = (v) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

function ipv4Address(r) {
  return r.bytes(4);
}

/** Random IPv6 addresses, with zero runs, IPv4-mapped and -compatible forms and ::1 now and then. */
function ipv6Address(r) {
  const b = r.bytes(16);
  const kind = r.int(0, 7);
  if (kind === 1) b.fill(0, r.int(0, 8), r.int(8, 16)); // a zero run
  if (kind === 2) b.fill(0, 2, 14);
  if (kind === 3) b.fill(0, 0, 10).writeUInt16BE(0xffff, 10); // ::ffff:a.b.c.d
  if (kind === 4) b.fill(0, 0, 12); // ::a.b.c.d
  if (kind === 5) b.fill(0).writeUInt8(1, 15); // ::1
  if (kind === 6) for (let i = 0; i < 16; i += 4) if (r.chance(0.5)) b.fill(0, i, i + 2); // single zero groups
  return b;
}

/** Ports clear of the well-known ones tshark dissects by number. */
const port = (r) => r.int(40000, 49999);

function tcpOptions(r) {
  const parts = [];
  if (r.chance(0.6)) parts.push(Buffer.from([2, 4]), u16(r.int(500, 9000)));
  if (r.chance(0.5)) parts.push(Buffer.from([1, 3, 3, r.int(0, 14)]));
  if (r.chance(0.4)) parts.push(Buffer.from([4, 2]));
  if (r.chance(0.5)) parts.push(Buffer.from([1, 1, 8, 10]), u32(r.int(0, 2 ** 32 - 1)), u32(r.int(0, 2 ** 32 - 1)));
  if (r.chance(0.3)) {
    const blocks = r.int(1, 3);
    parts.push(Buffer.from([1, 1, 5, 2 + 8 * blocks]));
    for (let i = 0; i < 2 * blocks; i++) parts.push(u32(r.int(0, 2 ** 32 - 1)));
  }
  let options = Buffer.concat(parts);
  if (options.length > 40) options = Buffer.concat([Buffer.from([2, 4]), u16(1460)]);
  const pad = (4 - (options.length % 4)) % 4;
  return Buffer.concat([options, Buffer.alloc(pad, 0)]);
}

function tcp(r, body, dnsPort) {
  const options = tcpOptions(r);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(dnsPort && r.chance(0.5) ? 53 : port(r), 0);
  h.writeUInt16BE(dnsPort && h.readUInt16BE(0) !== 53 ? 53 : port(r), 2);
  h.writeUInt32BE(r.int(0, 2 ** 32 - 1), 4);
  h.writeUInt32BE(r.int(0, 2 ** 32 - 1), 8);
  const flags = dnsPort ? 0x018 : r.pick([0x002, 0x012, 0x010, 0x018, 0x011, 0x004, 0x014, 0x0c2, 0x029, 0x100 | 0x010]);
  h.writeUInt16BE((((20 + options.length) / 4) << 12) | flags, 12);
  h.writeUInt16BE(r.int(0, 65535), 14);
  return Buffer.concat([h, options, body]);
}

function udp(r, body, dnsPort) {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(dnsPort && r.chance(0.5) ? 53 : port(r), 0);
  h.writeUInt16BE(dnsPort && h.readUInt16BE(0) !== 53 ? 53 : port(r), 2);
  h.writeUInt16BE(8 + body.length, 4);
  return Buffer.concat([h, body]);
}

const LABELS = ['www', 'mail', 'example', 'com', 'net', 'org', 'ns1', 'a', 'b-2', 'cdn', 'x9', 'local', 'test', 'srv'];

function domain(r) {
  return Array.from({ length: r.int(1, 4) }, () => r.pick(LABELS)).join('.');
}

/** A DNS message whose names are compressed against every suffix written before them. */
function dnsMessage(r) {
  const parts = [];
  let length = 0;
  const seen = new Map();
  const put = (b) => {
    parts.push(b);
    length += b.length;
  };
  const name = (text) => {
    const labels = text === '' ? [] : text.split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const at = seen.get(suffix);
      if (at !== undefined && r.chance(0.9)) return put(u16(0xc000 | at));
      if (length < 0x3fff) seen.set(suffix, length);
      put(Buffer.concat([Buffer.from([labels[i].length]), Buffer.from(labels[i], 'latin1')]));
    }
    put(Buffer.from([0]));
  };
  const questions = r.int(1, 2);
  const answers = r.int(0, 4);
  const authorities = r.int(0, 2);
  const additionals = r.int(0, 2);
  put(Buffer.concat([u16(r.int(0, 65535)), u16(r.pick([0x0100, 0x8180, 0x8183, 0x0000, 0x8580])), u16(questions), u16(answers), u16(authorities), u16(additionals)]));
  const qnames = [];
  for (let i = 0; i < questions; i++) {
    const q = r.chance(0.05) ? '' : domain(r);
    qnames.push(q);
    name(q);
    put(Buffer.concat([u16(r.pick([1, 28, 5, 15, 16, 33, 12, 2, 6, 255])), u16(1)]));
  }
  const record = () => {
    name(r.chance(0.6) ? r.pick(qnames) : domain(r));
    const type = r.pick([1, 28, 5, 2, 12, 15, 16, 6, 33, 65280]);
    put(Buffer.concat([u16(type), u16(1), u32(r.int(0, 2 ** 31))]));
    const lengthAt = parts.length;
    put(u16(0));
    const before = length;
    if (type === 1) put(r.bytes(4));
    else if (type === 28) put(ipv6Address(r));
    else if (type === 5 || type === 2 || type === 12) name(domain(r));
    else if (type === 15) {
      put(u16(r.int(0, 100)));
      name(domain(r));
    } else if (type === 16) {
      for (let i = r.int(1, 3); i > 0; i--) {
        const s = Buffer.from(r.pick(['v=spf1 -all', 'hello world', 'k=v', 'x']), 'latin1');
        put(Buffer.concat([Buffer.from([s.length]), s]));
      }
    } else if (type === 6) {
      name(domain(r));
      name(domain(r));
      for (let i = 0; i < 5; i++) put(u32(r.int(0, 2 ** 32 - 1)));
    } else if (type === 33) {
      put(Buffer.concat([u16(r.int(0, 10)), u16(r.int(0, 10)), u16(r.int(1, 65535))]));
      name(domain(r));
    } else put(r.bytes(r.int(0, 12)));
    parts[lengthAt] = u16(length - before);
  };
  for (let i = answers + authorities + additionals; i > 0; i--) record();
  return Buffer.concat(parts);
}

/** An IPv4 datagram: options now and then, first and later fragments now and then. */
function ipv4(r, proto, payload) {
  let options = Buffer.alloc(0);
  if (r.chance(0.15)) options = r.pick([Buffer.from([1, 1, 1, 0]), Buffer.from([7, 7, 4, 0, 0, 0, 0, 0]), Buffer.from([148, 4, 0, 0])]);
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ((20 + options.length) / 4);
  h[1] = r.int(0, 255);
  h.writeUInt16BE(20 + options.length + payload.length, 2);
  h.writeUInt16BE(r.int(0, 65535), 4);
  let flags = r.chance(0.5) ? 2 : 0;
  let offset = 0;
  if (r.chance(0.1)) {
    flags = 1; // the first fragment of a datagram
  } else if (r.chance(0.08)) {
    flags = r.pick([0, 1]);
    offset = r.int(1, 8000);
  }
  h.writeUInt16BE((flags << 13) | offset, 6);
  h[8] = r.int(1, 255);
  h[9] = proto;
  ipv4Address(r).copy(h, 12);
  ipv4Address(r).copy(h, 16);
  return Buffer.concat([h, options, payload]);
}

/** An IPv6 packet with a random chain of hop-by-hop, routing, fragment and destination options headers. */
function ipv6(r, proto, payload) {
  const chain = [];
  if (r.chance(0.35)) {
    if (r.chance(0.5)) chain.push(0);
    for (let n = r.int(0, 3); n > 0; n--) chain.push(r.pick([43, 44, 60]));
  }
  let next = proto;
  let body = payload;
  for (let i = chain.length - 1; i >= 0; i--) {
    const type = chain[i];
    let h;
    if (type === 44) {
      h = Buffer.alloc(8);
      const later = r.chance(0.3);
      h.writeUInt16BE(((later ? r.int(1, 8000) : 0) << 3) | (r.chance(0.8) ? 1 : 0), 2);
      h.writeUInt32BE(r.int(0, 2 ** 32 - 1), 4);
      if (later) body = r.bytes(r.int(8, 64)); // a later fragment carries no transport header
    } else if (type === 43) {
      h = Buffer.alloc(24);
      h[1] = 2;
      h[2] = 0;
      h[3] = 1;
      ipv6Address(r).copy(h, 8);
    } else {
      const units = r.int(0, 2);
      h = Buffer.alloc(8 + 8 * units);
      h[1] = units;
      h[2] = 1; // PadN over the rest
      h[3] = h.length - 4;
    }
    h[0] = next;
    next = type;
    body = Buffer.concat([h, body]);
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE((6 << 28) | (r.int(0, 255) << 20) | r.int(0, 0xfffff), 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = next;
  h[7] = r.int(1, 255);
  ipv6Address(r).copy(h, 8);
  ipv6Address(r).copy(h, 24);
  return Buffer.concat([h, body]);
}

function icmp(r) {
  const h = Buffer.alloc(8 + r.int(0, 32));
  h[0] = r.pick([0, 8]);
  h.writeUInt16BE(r.int(0, 65535), 4);
  h.writeUInt16BE(r.int(0, 65535), 6);
  return h;
}

function ndOption(r, type) {
  if (type === 3) {
    const o = Buffer.alloc(32);
    o[0] = 3;
    o[1] = 4;
    o[2] = r.int(0, 128);
    o[3] = 0xc0;
    ipv6Address(r).copy(o, 16);
    return o;
  }
  if (type === 5) return Buffer.concat([Buffer.from([5, 1, 0, 0]), u32(r.int(1280, 9000))]);
  return Buffer.concat([Buffer.from([type, 1]), r.bytes(6)]);
}

function icmpv6(r) {
  const type = r.pick([128, 129, 133, 134, 135, 136]);
  let fixed;
  let options = [];
  if (type === 128 || type === 129) fixed = Buffer.concat([Buffer.from([type, 0, 0, 0]), u16(r.int(0, 65535)), u16(r.int(0, 65535)), r.bytes(r.int(0, 16))]);
  else if (type === 133) {
    fixed = Buffer.from([type, 0, 0, 0, 0, 0, 0, 0]);
    if (r.chance(0.5)) options = [ndOption(r, 1)];
  } else if (type === 134) {
    fixed = Buffer.concat([Buffer.from([type, 0, 0, 0, 64, r.pick([0, 0x80, 0x40])]), u16(r.int(0, 9000)), u32(0), u32(0)]);
    options = [ndOption(r, 1), ndOption(r, 5), ndOption(r, 3)].filter(() => r.chance(0.7));
  } else {
    fixed = Buffer.concat([Buffer.from([type, 0, 0, 0, type === 136 ? r.pick([0x60, 0x40, 0xe0, 0x20]) : 0, 0, 0, 0]), ipv6Address(r)]);
    if (r.chance(0.7)) options = [ndOption(r, type === 135 ? 1 : 2)];
  }
  return Buffer.concat([fixed, ...options]);
}

function arp(r) {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(r.pick([1, 2]), 6);
  r.bytes(20).copy(b, 8);
  return b;
}

/** An IP packet (version 4 or 6) with one of the transports. */
function ipPacket(r, version) {
  const kind = r.pick(['tcp', 'tcp', 'udp', 'udp', 'icmp', 'dns-udp', 'dns-udp', 'dns-tcp', 'other']);
  let proto;
  let body;
  if (kind === 'tcp') [proto, body] = [6, tcp(r, r.bytes(r.int(0, 40)), false)];
  else if (kind === 'udp') [proto, body] = [17, udp(r, r.bytes(r.int(0, 40)), false)];
  else if (kind === 'dns-udp') [proto, body] = [17, udp(r, dnsMessage(r), true)];
  else if (kind === 'dns-tcp') {
    const m = dnsMessage(r);
    [proto, body] = [6, tcp(r, Buffer.concat([u16(m.length), m]), true)];
  } else if (kind === 'icmp') [proto, body] = version === 4 ? [1, icmp(r)] : [58, icmpv6(r)];
  else [proto, body] = [r.pick([253, 254]), r.bytes(r.int(0, 24))];
  return version === 4 ? ipv4(r, proto, body) : ipv6(r, proto, body);
}

/** [ethertype, payload] for the network layer of a link frame. */
function network(r, allowArp) {
  const x = r.next();
  if (allowArp && x < 0.1) return [0x0806, arp(r)];
  if (x < 0.6) return [0x0800, ipPacket(r, 4)];
  return [0x86dd, ipPacket(r, 6)];
}

function ethernet(r) {
  const [type, body] = network(r, true);
  const tags = r.pick([0, 0, 0, 1, 1, 2]);
  const parts = [r.bytes(12)];
  for (let i = 0; i < tags; i++) {
    parts.push(u16(tags === 2 && i === 0 && r.chance(0.5) ? 0x88a8 : 0x8100), u16(r.int(0, 0xffff)));
  }
  parts.push(u16(type), body);
  return Buffer.concat(parts);
}

function sll(r) {
  const [type, body] = network(r, true);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(r.int(0, 4), 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  r.bytes(6).copy(h, 6);
  h.writeUInt16BE(type, 14);
  return Buffer.concat([h, body]);
}

function sll2(r) {
  const [type, body] = network(r, true);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt32BE(r.int(1, 100), 4);
  h.writeUInt16BE(1, 8);
  h[10] = r.int(0, 4);
  h[11] = 6;
  r.bytes(6).copy(h, 12);
  return Buffer.concat([h, body]);
}

function loopback(r, bigEndian) {
  const v6 = r.chance(0.4);
  const h = Buffer.alloc(4);
  const family = v6 ? r.pick([24, 28, 30]) : 2;
  if (bigEndian) h.writeUInt32BE(family);
  else h.writeUInt32LE(family);
  return Buffer.concat([h, ipPacket(r, v6 ? 6 : 4)]);
}

/** Link types (DLT numbers, as createWriter takes them) and how to build a frame for each. */
const LINKS = {
  1: ethernet,
  113: sll,
  276: sll2,
  0: (r) => loopback(r, false),
  108: (r) => loopback(r, true),
  12: (r) => ipPacket(r, r.chance(0.6) ? 4 : 6),
};

/**
 * count frames of linktype from seed: { data, len }, where data is cut
 * short (len the frame's full length) for about one in eight.
 */
function frames(linktype, count, seed) {
  const r = rng(seed);
  const build = LINKS[linktype];
  return Array.from({ length: count }, () => {
    const data = build(r);
    if (r.chance(0.125)) return { data: data.subarray(0, r.int(1, data.length - 1)), len: data.length };
    return { data, len: data.length };
  });
}

module.exports = { rng, frames, LINKTYPES: Object.keys(LINKS).map(Number) };
