/**
 * decode() against tshark: seeded traces of every link type and layer the
 * decoder knows, written with createWriter, read back with openOffline,
 * decoded packet by packet and compared field by field with
 * `tshark -T fields` on the same files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWriter, decode, openOffline } from '../lib';
import type { Decoded, PacketBatch } from '../lib';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { frames, LINKTYPES } = require('./helpers/packets.js') as {
  frames: (linktype: number, count: number, seed: number) => { data: Buffer; len: number }[];
  LINKTYPES: number[];
};

const PER_LINKTYPE = 1500;
const SEED = 15;

/** The fields compared, as tshark names them. */
const FIELDS = [
  'eth.src', 'eth.dst', 'eth.type', 'vlan.id', 'vlan.priority', 'ieee8021ad.id',
  'sll.pkttype', 'sll.hatype', 'sll.halen', 'sll.etype', 'sll.ifindex', 'null.family',
  'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4',
  'ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.flags', 'ip.frag_offset', 'ip.id', 'ip.hdr_len', 'ip.len',
  'ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'ipv6.hlim', 'ipv6.plen', 'ipv6.flow', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.ident',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.window_size_value', 'tcp.hdr_len',
  'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_le', 'tcp.options.sack_re', 'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr',
  'udp.srcport', 'udp.dstport', 'udp.length',
  'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq',
  'icmpv6.type', 'icmpv6.code', 'icmpv6.echo.identifier', 'icmpv6.echo.sequence_number', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address',
  'icmpv6.opt.type', 'icmpv6.opt.prefix', 'icmpv6.opt.mtu',
  'dns.id', 'dns.flags', 'dns.count.queries', 'dns.count.answers', 'dns.count.auth_rr', 'dns.count.add_rr',
  'dns.qry.name', 'dns.qry.type', 'dns.qry.class', 'dns.resp.name', 'dns.resp.type', 'dns.resp.ttl',
  'dns.a', 'dns.aaaa', 'dns.cname', 'dns.ns', 'dns.ptr.domain_name', 'dns.mx.preference', 'dns.mx.mail_exchange', 'dns.txt',
  'dns.soa.mname', 'dns.soa.rname', 'dns.soa.serial_number', 'dns.srv.port', 'dns.srv.target',
];

/** The minimum: each must be compared on some packets. */
const REQUIRED = [
  'ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.flags', 'ip.frag_offset', 'ipv6.src', 'ipv6.dst', 'ipv6.nxt',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.window_size_value', 'tcp.options.mss_val',
  'udp.srcport', 'udp.dstport', 'icmp.type', 'icmp.code', 'icmpv6.type', 'arp.opcode', 'vlan.id',
  'dns.id', 'dns.qry.name', 'dns.qry.type', 'dns.a', 'dns.aaaa',
];

type Fields = Record<string, string[]>;

/** What decode() says, under tshark's field names. */
function ourFields(decoded: Decoded): Fields {
  const f: Fields = {};
  const add = (name: string, value: string | number | boolean | undefined): void => {
    if (value !== undefined) (f[name] ??= []).push(String(typeof value === 'boolean' ? Number(value) : value));
  };
  const dnsName = (n: string): string => (n === '' ? '<Root>' : n);
  for (const l of decoded.layers) {
    switch (l.layer) {
      case 'ethernet':
        add('eth.src', l.src);
        add('eth.dst', l.dst);
        add('eth.type', l.type);
        break;
      case 'vlan':
        add(l.tpid === 0x88a8 ? 'ieee8021ad.id' : 'vlan.id', l.id);
        if (l.tpid !== 0x88a8) add('vlan.priority', l.priority);
        break;
      case 'sll':
      case 'sll2':
        add('sll.pkttype', l.packetType);
        add('sll.hatype', l.hatype);
        add('sll.halen', l.addressLength);
        add('sll.etype', l.protocol);
        if (l.layer === 'sll2') add('sll.ifindex', l.ifindex);
        break;
      case 'null':
        add('null.family', l.family);
        break;
      case 'arp':
        add('arp.opcode', l.opcode);
        add('arp.src.hw_mac', l.senderMac);
        add('arp.src.proto_ipv4', l.senderIp);
        add('arp.dst.hw_mac', l.targetMac);
        add('arp.dst.proto_ipv4', l.targetIp);
        break;
      case 'ipv4':
        add('ip.src', l.src);
        add('ip.dst', l.dst);
        add('ip.proto', l.protocol);
        add('ip.ttl', l.ttl);
        add('ip.flags', l.flags);
        add('ip.frag_offset', l.fragmentOffset);
        add('ip.id', l.id);
        add('ip.hdr_len', l.headerLength);
        add('ip.len', l.totalLength);
        break;
      case 'ipv6':
        add('ipv6.src', l.src);
        add('ipv6.dst', l.dst);
        add('ipv6.nxt', l.nextHeader);
        add('ipv6.hlim', l.hopLimit);
        add('ipv6.plen', l.payloadLength);
        add('ipv6.flow', l.flowLabel);
        for (const x of l.extensions) {
          if (x.type !== 44) continue;
          add('ipv6.fraghdr.offset', x.fragmentOffset);
          add('ipv6.fraghdr.more', x.more);
          add('ipv6.fraghdr.ident', x.id);
        }
        break;
      case 'tcp':
        add('tcp.srcport', l.srcPort);
        add('tcp.dstport', l.dstPort);
        add('tcp.flags', l.flags);
        add('tcp.seq_raw', l.seq);
        add('tcp.ack_raw', l.ack);
        add('tcp.window_size_value', l.window);
        add('tcp.hdr_len', l.headerLength);
        add('tcp.options.mss_val', l.mss);
        add('tcp.options.wscale.shift', l.windowScale);
        for (let i = 0; i < (l.sack?.length ?? 0); i += 2) {
          add('tcp.options.sack_le', l.sack![i]);
          add('tcp.options.sack_re', l.sack![i + 1]);
        }
        add('tcp.options.timestamp.tsval', l.timestamp?.value);
        add('tcp.options.timestamp.tsecr', l.timestamp?.echo);
        break;
      case 'udp':
        add('udp.srcport', l.srcPort);
        add('udp.dstport', l.dstPort);
        add('udp.length', l.length);
        break;
      case 'icmp':
        add('icmp.type', l.type);
        add('icmp.code', l.code);
        add('icmp.ident', l.id);
        add('icmp.seq', l.seq);
        break;
      case 'icmpv6':
        add('icmpv6.type', l.type);
        add('icmpv6.code', l.code);
        add('icmpv6.echo.identifier', l.id);
        add('icmpv6.echo.sequence_number', l.seq);
        add(l.type === 135 ? 'icmpv6.nd.ns.target_address' : 'icmpv6.nd.na.target_address', l.targetAddress);
        for (const o of l.options ?? []) {
          add('icmpv6.opt.type', o.type);
          add('icmpv6.opt.prefix', o.prefix);
          add('icmpv6.opt.mtu', o.mtu);
        }
        break;
      case 'dns':
        add('dns.id', l.id);
        add('dns.flags', l.flags);
        add('dns.count.queries', l.questionCount);
        add('dns.count.answers', l.answerCount);
        add('dns.count.auth_rr', l.authorityCount);
        add('dns.count.add_rr', l.additionalCount);
        for (const q of l.questions) {
          add('dns.qry.name', dnsName(q.name));
          add('dns.qry.type', q.type);
          add('dns.qry.class', q.class);
        }
        for (const r of [...l.answers, ...l.authorities, ...l.additionals]) {
          // tshark splits an SRV record's owner name into dns.srv.service, .proto and .name.
          if (r.type !== 33) add('dns.resp.name', dnsName(r.name));
          add('dns.resp.type', r.type);
          add('dns.resp.ttl', r.ttl);
          const data = r.data as never as Record<string, string | number> & string & string[];
          if (r.type === 1) add('dns.a', data);
          if (r.type === 28) add('dns.aaaa', data);
          if (r.type === 5) add('dns.cname', dnsName(data));
          if (r.type === 2) add('dns.ns', dnsName(data));
          if (r.type === 12) add('dns.ptr.domain_name', dnsName(data));
          if (r.type === 15) {
            add('dns.mx.preference', data.preference);
            add('dns.mx.mail_exchange', dnsName(data.exchange as string));
          }
          if (r.type === 16) for (const s of data) add('dns.txt', s);
          if (r.type === 6) {
            add('dns.soa.mname', dnsName(data.mname as string));
            add('dns.soa.rname', dnsName(data.rname as string));
            add('dns.soa.serial_number', data.serial);
          }
          if (r.type === 33) {
            add('dns.srv.port', data.port);
            add('dns.srv.target', dnsName(data.target as string));
          }
        }
        break;
    }
  }
  return f;
}

/** tshark's text as decode() gives it: hex numbers in decimal, booleans as 0/1. */
function normalise(value: string): string {
  if (/^0x[0-9a-f]+$/i.test(value)) return String(parseInt(value, 16));
  if (value === 'True') return '1';
  if (value === 'False') return '0';
  return value;
}

interface TsharkPacket {
  malformed: boolean;
  /** Cut by the snaplen where tshark needed more ("Packet size limited during capture"). */
  short: boolean;
  fields: Fields;
}

function tshark(file: string): TsharkPacket[] {
  const args = ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.relative_sequence_numbers:FALSE'];
  args.push('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=\u0001', '-E', 'separator=\u0002', '-e', '_ws.malformed', '-e', '_ws.short');
  for (const f of FIELDS) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const columns = line.split('\u0002');
      const fields: Fields = {};
      FIELDS.forEach((name, i) => {
        const v = columns[i + 2];
        if (v !== undefined && v !== '') fields[name] = v.split('\u0001').map(normalise);
      });
      return { malformed: columns[0] !== '', short: columns[1] !== '', fields };
    });
}

interface Difference {
  file: string;
  frame: number;
  field: string;
  ours: string[] | undefined;
  tshark: string[] | undefined;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-decode-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every packet of file with the link type libpcap reports for it. */
async function readBack(file: string): Promise<{ linktype: number; batches: PacketBatch[] }> {
  const cap = openOffline(file);
  const batches: PacketBatch[] = [];
  for await (const b of cap.batches()) batches.push(b);
  cap.close();
  return { linktype: cap.linktype, batches };
}

test('decode() agrees with tshark on every field of every generated packet, for every link type', async () => {
  const differences: Difference[] = [];
  const compared: Record<string, number> = {};
  let packets = 0;
  let fieldsCompared = 0;
  let malformed = 0;
  let short = 0;
  for (const linktype of LINKTYPES) {
    const file = path.join(dir, `dlt${linktype}.pcap`);
    const w = createWriter(file, { linktype });
    frames(linktype, PER_LINKTYPE, SEED + linktype).forEach((f, i) => w.write({ timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1000n, data: f.data, len: f.len }));
    w.close();
    const theirs = tshark(file);
    const { linktype: readType, batches } = await readBack(file);
    const ours = batches.flatMap((b) => [...b].map((p) => ourFields(decode(p.data, readType))));
    expect(ours).toHaveLength(PER_LINKTYPE);
    expect(theirs).toHaveLength(PER_LINKTYPE);
    ours.forEach((mine, i) => {
      packets++;
      const t = theirs[i];
      if (t.malformed) malformed++;
      else if (t.short) short++;
      for (const field of FIELDS) {
        const a = mine[field];
        const b = t.fields[field];
        if (a === undefined && b === undefined) continue;
        // On a packet tshark calls malformed or cut short, only what both decoded
        // is compared (tshark shows fields of a half-captured header, decode()
        // only whole headers), and where one stopped earlier its values must begin the other's.
        if (t.malformed || t.short) {
          if (a === undefined || b === undefined) continue;
          const n = Math.min(a.length, b.length);
          if (a.slice(0, n).join() !== b.slice(0, n).join()) differences.push({ file: path.basename(file), frame: i + 1, field, ours: a, tshark: b });
        } else if (a?.join('\u0001') !== b?.join('\u0001')) {
          differences.push({ file: path.basename(file), frame: i + 1, field, ours: a, tshark: b });
        }
        fieldsCompared += Math.max(a?.length ?? 0, b?.length ?? 0);
        compared[field] = (compared[field] ?? 0) + 1;
      }
    });
  }
  if (process.env.DECODE_DIFFS) fs.writeFileSync(process.env.DECODE_DIFFS, JSON.stringify(differences, null, 1));
  console.log(`decode vs tshark: ${packets} packets, ${fieldsCompared} field values compared, ${differences.length} differences (${short} packets cut short and ${malformed} malformed for tshark, compared where both decoded)`);
  expect(differences.slice(0, 40)).toEqual([]);
  expect(REQUIRED.filter((f) => (compared[f] ?? 0) < 10)).toEqual([]);
  // Six tshark runs over 1500 packets each: slow on a loaded 2-core machine.
}, 180_000);
