/**
 * ClientHello and ServerHello bodies (RFC 8446 4.1.2 and 4.1.3, and the
 * TLS 1.2 forms), shared by TLS over TCP and QUIC. A body that ends early
 * or whose lengths do not add up gives null, never a throw.
 */
import type { ClientHello, ServerHello } from './types';

/** RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa. */
export function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

/** A bounds-checked reader: any read past the end sets `bad` and returns 0 / an empty buffer. */
class Reader {
  bad = false;
  constructor(private readonly b: Buffer, public at = 0, private readonly end = b.length) {}
  get left(): number {
    return this.end - this.at;
  }
  u8(): number {
    if (this.at + 1 > this.end) return this.fail();
    return this.b[this.at++];
  }
  u16(): number {
    if (this.at + 2 > this.end) return this.fail();
    const v = (this.b[this.at] << 8) | this.b[this.at + 1];
    this.at += 2;
    return v;
  }
  /** Steps over n bytes. */
  skip(n: number): void {
    if (this.at + n > this.end) this.fail();
    else this.at += n;
  }
  /** The rest of this reader's bytes as latin1 text (no Buffer view made). */
  text(): string {
    const v = this.b.toString('latin1', this.at, this.end);
    this.at = this.end;
    return v;
  }
  /** The rest of this reader's bytes as numbers. */
  u8s(): number[] {
    const out: number[] = [];
    while (this.at < this.end) out.push(this.b[this.at++]);
    return out;
  }
  /** A sub-reader over a length-prefixed vector (prefix of 1 or 2 bytes). */
  vector(prefix: 1 | 2): Reader {
    const n = prefix === 1 ? this.u8() : this.u16();
    const r = new Reader(this.b, this.at, Math.min(this.at + n, this.end));
    if (this.at + n > this.end) this.fail();
    this.at = Math.min(this.at + n, this.end);
    return r;
  }
  u16s(): number[] {
    const out: number[] = [];
    while (this.left >= 2) out.push(this.u16());
    if (this.left !== 0) this.fail();
    return out;
  }
  private fail(): 0 {
    this.bad = true;
    this.at = this.end;
    return 0;
  }
}

/** The ALPN protocol names of an ALPN extension's body. */
function alpnList(r: Reader): string[] {
  const list = r.vector(2);
  const out: string[] = [];
  while (list.left > 0 && !list.bad) {
    const name = list.vector(1);
    out.push(name.text());
  }
  return out;
}

/** Parses a ClientHello body (after the 4-byte handshake header), body[start, end). */
export function parseClientHello(body: Buffer, start = 0, end = body.length): ClientHello | null {
  const r = new Reader(body, start, end);
  const hello: ClientHello = {
    legacyVersion: r.u16(),
    supportedVersions: [],
    cipherSuites: [],
    extensions: [],
    sni: null,
    alpn: [],
    supportedGroups: [],
    ecPointFormats: [],
    signatureAlgorithms: [],
    grease: 0,
  };
  r.skip(32);
  r.vector(1); // session id
  hello.cipherSuites = r.vector(2).u16s();
  r.vector(1); // compression methods
  if (r.bad) return null;
  if (r.left > 0) {
    const exts = r.vector(2);
    while (exts.left > 0 && !exts.bad) {
      const type = exts.u16();
      const data = exts.vector(2);
      if (exts.bad) break;
      hello.extensions.push(type);
      switch (type) {
        case 0:
          hello.sni = sniOf(data);
          break;
        case 10:
          hello.supportedGroups = data.vector(2).u16s();
          break;
        case 11: {
          hello.ecPointFormats = data.vector(1).u8s();
          break;
        }
        case 13:
          hello.signatureAlgorithms = data.vector(2).u16s();
          break;
        case 16:
          hello.alpn = alpnList(data);
          break;
        case 43:
          hello.supportedVersions = data.vector(1).u16s();
          break;
      }
    }
    if (exts.bad) return null;
  }
  for (const list of [hello.cipherSuites, hello.extensions, hello.supportedGroups, hello.supportedVersions, hello.signatureAlgorithms]) {
    for (const v of list) if (isGrease(v)) hello.grease++;
  }
  return hello;
}

/** The first host_name of a server_name extension's body. */
function sniOf(data: Reader): string | null {
  const names = data.vector(2);
  while (names.left > 0 && !names.bad) {
    const kind = names.u8();
    const name = names.vector(2);
    if (kind === 0 && !names.bad) return name.text();
  }
  return null;
}

/** Parses a ServerHello body (after the 4-byte handshake header), body[start, end). */
export function parseServerHello(body: Buffer, start = 0, end = body.length): ServerHello | null {
  const r = new Reader(body, start, end);
  const legacyVersion = r.u16();
  r.skip(32);
  r.vector(1);
  const cipherSuite = r.u16();
  r.u8(); // compression method
  if (r.bad) return null;
  const hello: ServerHello = { legacyVersion, version: legacyVersion, cipherSuite, extensions: [], alpn: null };
  if (r.left > 0) {
    const exts = r.vector(2);
    while (exts.left > 0 && !exts.bad) {
      const type = exts.u16();
      const data = exts.vector(2);
      if (exts.bad) break;
      hello.extensions.push(type);
      if (type === 43) hello.version = data.u16();
      else if (type === 16) hello.alpn = alpnList(data)[0] ?? null;
    }
    if (exts.bad) return null;
  }
  return hello;
}
