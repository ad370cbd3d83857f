/**
 * Issue 25: a handshake record's fingerprints are computed on first read,
 * yet the record looks like a plain object to every reader: same keys in
 * the same order, same JSON, same values through spread, structuredClone
 * and util.inspect, and assignable.
 */
import { inspect } from 'node:util';
import { ja3, ja4, ja4s } from '../lib/sessions/fingerprints';
import { parseClientHello, parseServerHello } from '../lib/sessions/hello';
import { ParserRegistry } from '../lib/sessions/registry';
import type { HandshakeRecord, SessionRecord } from '../lib/sessions/types';
import { clientHello, records, serverHello } from './helpers/hello';

const hello = clientHello({ extensions: [0x0000, 0x0010, 0x002b, 0x000d, 0x000a], sni: 'lazy.example', alpn: ['h2'], versions: [0x0304, 0x0303], ciphers: [0x1301, 0x1302], sigalgs: [0x0403], groups: [0x001d] });
const server = serverHello(0x1301, [[0x002b, Buffer.from([3, 4])]]);

function handshake(): HandshakeRecord {
  const out: SessionRecord[] = [];
  const h = new ParserRegistry().handler({ id: 7, key: { version: 4, protocol: 6, src: '10.0.0.1', srcPort: 40000, dst: '10.0.0.2', dstPort: 443 } }, (r) => out.push(r));
  h.onData('client', records(hello), { offset: 0, timestamp: 1n });
  h.onData('server', records(server), { offset: 0, timestamp: 2n });
  h.onEnd('end', { last: 3n });
  expect(out).toHaveLength(1);
  return out[0] as HandshakeRecord;
}

const expected = () => {
  const c = parseClientHello(hello.subarray(4))!;
  const s = parseServerHello(server.subarray(4))!;
  return { ...ja3(c), ...ja4(c, 'tcp'), ja4s: ja4s(s, 'tcp') };
};
const KEYS = ['kind', 'flow', 'flags', 'client', 'server', 'sni', 'alpn', 'clientTime', 'serverTime', 'ja3', 'ja3Full', 'ja4', 'ja4r', 'ja4s'];

describe('handshake records (fingerprints on first read)', () => {
  test('have the plain fields in order and fingerprints equal to the functions of their hellos', () => {
    const r = handshake();
    expect(Object.keys(r)).toEqual(KEYS);
    const e = expected();
    expect({ ja3: r.ja3, ja3Full: r.ja3Full, ja4: r.ja4, ja4r: r.ja4r, ja4s: r.ja4s }).toEqual({ ja3: e.ja3, ja3Full: e.ja3Full, ja4: e.ja4, ja4r: e.ja4r, ja4s: e.ja4s });
    expect(r.ja4).toMatch(/^t13d0205h2_/);
  });

  test('serialise, spread, clone and print with the fingerprint values', () => {
    const r = handshake();
    const e = expected();
    const json = JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    expect(Object.keys(json)).toEqual(KEYS);
    expect(json).toMatchObject({ sni: 'lazy.example', ja3: e.ja3, ja4: e.ja4, ja4s: e.ja4s });
    const spread = { ...r };
    expect(Object.getOwnPropertyDescriptor(spread, 'ja4')).toMatchObject({ value: e.ja4 });
    expect(structuredClone(r)).toMatchObject({ ja3Full: e.ja3Full, ja4r: e.ja4r });
    const text = inspect(r);
    expect(text).toContain(`ja4: '${e.ja4}'`);
    expect(text).not.toContain('Getter');
  });

  test('take an assigned value as a plain field', () => {
    const r = handshake();
    r.ja4 = 'replaced';
    expect(r.ja4).toBe('replaced');
    expect(Object.keys(r)).toEqual(KEYS);
    expect(JSON.parse(JSON.stringify({ ja4: r.ja4, ja3: r.ja3 }))).toEqual({ ja4: 'replaced', ja3: expected().ja3 });
  });
});
