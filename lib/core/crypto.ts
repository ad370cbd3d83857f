/**
 * node:crypto, loaded on first use: loading wirecap must not load it
 * (test/layout.test.ts), so the code that hashes or decrypts asks here.
 */
import type * as Crypto from 'node:crypto';

let loaded: typeof Crypto | null = null;

export function nodeCrypto(): typeof Crypto {
  loaded ??= require('node:crypto') as typeof Crypto;
  return loaded;
}

/** A string's digest in hex: crypto.hash() where node has it (20.12, 21.7 and later: about 2.5× faster for short inputs), else createHash. */
export function digestHex(algorithm: 'sha256' | 'md5', data: string): string {
  const c = nodeCrypto() as typeof Crypto & { hash?: (algorithm: string, data: string) => string };
  return c.hash !== undefined ? c.hash(algorithm, data) : c.createHash(algorithm).update(data).digest('hex');
}
