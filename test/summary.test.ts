import { summarize } from '../lib/cli/summary';

/** IPv4 header + payload with protocol proto from 10.0.0.1 to 10.0.0.2. */
function ipv4(proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(h, 12);
  return Buffer.concat([h, payload]);
}

function ipv6(next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[23] = 1; // ::1
  h[39] = 1; // ::1
  return Buffer.concat([h, payload]);
}

const udp = (sport: number, dport: number, data = Buffer.alloc(12)): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
};

const tcp = (sport: number, dport: number, flags: number, data = Buffer.alloc(0)): Buffer => {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 5 << 4;
  h[13] = flags;
  return Buffer.concat([h, data]);
};

const ether = (type: number, payload: Buffer, vlan?: number): Buffer => {
  const h = Buffer.alloc(vlan === undefined ? 14 : 18);
  if (vlan !== undefined) {
    h.writeUInt16BE(0x8100, 12);
    h.writeUInt16BE(vlan, 14);
  }
  h.writeUInt16BE(type, h.length - 2);
  return Buffer.concat([h, payload]);
};

describe('summarize()', () => {
  test('Ethernet IPv4 UDP, like tcpdump', () => {
    expect(summarize(1, ether(0x0800, ipv4(17, udp(40000, 9999))))).toBe('IP 10.0.0.1.40000 > 10.0.0.2.9999: UDP, length 12');
  });

  test('Ethernet with an 802.1Q tag', () => {
    expect(summarize(1, ether(0x0800, ipv4(17, udp(1, 2)), 100))).toBe('vlan 100, IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 12');
  });

  test('IPv6 TCP SYN with compressed addresses', () => {
    expect(summarize(1, ether(0x86dd, ipv6(6, tcp(5000, 80, 0x02))))).toBe('IP6 ::1.5000 > ::1.80: TCP [S], length 0');
  });

  test('TCP flags and payload length', () => {
    expect(summarize(101, ipv4(6, tcp(1, 2, 0x18, Buffer.alloc(5))))).toBe('IP 10.0.0.1.1 > 10.0.0.2.2: TCP [P.], length 5');
  });

  test('ICMP and ICMPv6 echo', () => {
    expect(summarize(12, ipv4(1, Buffer.from([8, 0, 0, 0])))).toBe('IP 10.0.0.1 > 10.0.0.2: ICMP echo request, length 4');
    expect(summarize(101, ipv6(58, Buffer.from([129, 0, 0, 0])))).toBe('IP6 ::1 > ::1: ICMP6 echo reply, length 4');
  });

  test('ARP request', () => {
    const arp = Buffer.alloc(28);
    arp.writeUInt16BE(1, 0); // Ethernet
    arp.writeUInt16BE(0x0800, 2); // IPv4
    arp[4] = 6;
    arp[5] = 4;
    arp.writeUInt16BE(1, 6);
    Buffer.from([10, 0, 0, 2]).copy(arp, 14);
    Buffer.from([10, 0, 0, 1]).copy(arp, 24);
    expect(summarize(1, ether(0x0806, arp))).toBe('ARP, Request who-has 10.0.0.1 tell 10.0.0.2');
  });

  test('Linux cooked captures v1 and v2, and BSD loopback', () => {
    const sll = Buffer.alloc(16);
    sll.writeUInt16BE(0x0800, 14);
    expect(summarize(113, Buffer.concat([sll, ipv4(17, udp(1, 2))]))).toMatch(/^IP 10\.0\.0\.1\.1 > /);
    const sll2 = Buffer.alloc(20);
    sll2.writeUInt16BE(0x86dd, 0);
    expect(summarize(276, Buffer.concat([sll2, ipv6(17, udp(1, 2))]))).toMatch(/^IP6 ::1\.1 > ::1\.2: UDP/);
    const family = Buffer.alloc(4);
    family.writeUInt32LE(2);
    expect(summarize(0, Buffer.concat([family, ipv4(17, udp(1, 2))]))).toMatch(/^IP 10\.0\.0\.1\.1 >/);
  });

  test('a packet cut anywhere never throws and ends in [|proto]', () => {
    const full = ether(0x0800, ipv4(6, tcp(1, 2, 0x10)));
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => summarize(1, full.subarray(0, cut))).not.toThrow();
    }
    expect(summarize(1, full.subarray(0, 20))).toBe('IP [|ip]');
    expect(summarize(1, full.subarray(0, 40))).toBe('IP 10.0.0.1 > 10.0.0.2: TCP [|tcp]');
  });

  test('unknown link types and ethertypes are named, not guessed', () => {
    expect(summarize(999, Buffer.alloc(10))).toBe('linktype 999, length 10');
    expect(summarize(1, ether(0x88cc, Buffer.alloc(30)))).toBe('ethertype 0x88cc, length 30');
  });
});
