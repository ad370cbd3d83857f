'use strict';
// The fuzzer's randomness and its mutations (scripts/fuzz.js): case i of
// seed S is a function of (S, i) alone.

/** xorshift32 from (seed, case): the same case every run. */
function rng(seed, index) {
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < 4; i++) next();
  return { u32: next, below: (n) => next() % n, chance: (p) => next() / 2 ** 32 < p };
}


const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x40000, 0x40001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function mutate(seed, r) {
  let bytes = Buffer.from(seed);
  const rounds = 1 + r.below(6);
  for (let k = 0; k < rounds && bytes.length > 0; k++) {
    const at = r.below(bytes.length);
    switch (r.below(8)) {
      case 0: // flip a bit
        bytes[at] ^= 1 << r.below(8);
        break;
      case 1: // a random byte
        bytes[at] = r.below(256);
        break;
      case 2: // an interesting 32-bit value, aligned as headers are
        if (bytes.length >= 4) {
          const aligned = Math.min(at - (at % 4), bytes.length - 4);
          const v = INTERESTING_32[r.below(INTERESTING_32.length)];
          if (r.chance(0.5)) bytes.writeUInt32LE(v, aligned);
          else bytes.writeUInt32BE(v, aligned);
        }
        break;
      case 3: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 4: // delete a span
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.below(64)))]);
        break;
      case 5: // repeat a span
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + 1 + r.below(256)), bytes.subarray(at)]);
        break;
      case 6: // insert random bytes
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + r.below(32) }, () => r.below(256))), bytes.subarray(at)]);
        break;
      default: // add or subtract a little from a byte
        bytes[at] = (bytes[at] + (r.chance(0.5) ? 1 : 255) * (1 + r.below(4))) & 0xff;
    }
  }
  return bytes;
}

module.exports = { rng, mutate };
