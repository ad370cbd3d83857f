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
