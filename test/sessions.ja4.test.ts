// JA4 and JA4S against the expected outputs FoxIO publishes for its own
// sample captures (test/fixtures/ja4/README.md), TLS over TCP and QUIC.
import fs from 'node:fs';
import path from 'node:path';
import { openOffline, sessions } from '../lib';
import type { HandshakeRecord } from '../lib';

const DIR = path.join(__dirname, 'fixtures', 'ja4');
interface Expected {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  transport: string;
  sni: string | null;
  ja4: string;
  ja4s?: string;
}
const expected: Record<string, Expected[]> = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));

async function handshakes(file: string): Promise<HandshakeRecord[]> {
  const out: HandshakeRecord[] = [];
  for await (const r of sessions(openOffline(path.join(DIR, file)))) if (r.kind === 'tls' || r.kind === 'quic') out.push(r as HandshakeRecord);
  return out;
}

test.each(Object.keys(expected))('%s: every published JA4, JA4S and SNI, and no handshake more', async (file) => {
  const got = await handshakes(file);
  const compared = { ja4: 0, ja4s: 0 };
  expect(got).toHaveLength(expected[file].length);
  for (const e of expected[file]) {
    const r = got.find((x) => x.flow.key.src === e.src && x.flow.key.srcPort === e.srcPort && x.flow.key.dst === e.dst && x.flow.key.dstPort === e.dstPort);
    expect(r).toBeDefined();
    let ja4 = e.ja4;
    if (file === 'tls-non-ascii-alpn.pcapng') {
      // FoxIO's tools print 99 for this non-alphanumeric ALPN; JA4.md asks for the first and last hex characters of its bytes.
      const alpn = Buffer.from(r!.alpn[0], 'latin1').toString('hex');
      expect(alpn).toMatch(/^b.*d$/);
      ja4 = ja4.replace('99_', `${alpn[0]}${alpn[alpn.length - 1]}_`);
    }
    expect({ ja4: r!.ja4, sni: r!.sni, kind: r!.kind }).toEqual({ ja4, sni: e.sni, kind: e.ja4.startsWith('q') ? 'quic' : 'tls' });
    compared.ja4++;
    if (e.ja4s !== undefined) {
      expect(r!.ja4s).toBe(e.ja4s);
      compared.ja4s++;
    }
  }
  expect(compared.ja4).toBeGreaterThan(0);
});
