/**
 * The flow table's storage: flows live in slots of typed arrays (structure
 * of arrays), found through an open-addressing hash index (linear probing,
 * deletion by backward shift, so no tombstones). Each slot sits in one of
 * four least-recently-seen lists (TCP, TCP closed, UDP, other) whose heads
 * are the next to time out. Nothing here allocates per packet.
 */

/** Words of a key: two 4-word addresses, the ports, then protocol | version << 8 | vlan << 16. */
export const KEY_WORDS = 10;

export const LIST_TCP = 0;
export const LIST_TCP_CLOSED = 1;
export const LIST_UDP = 2;
export const LIST_OTHER = 3;
const LISTS = 4;

/** A 32-bit hash of the key words (murmur3's finalizer over a running mix). */
export function hashKey(w: Uint32Array): number {
  let h = 0x9747b28c;
  for (let k = 0; k < KEY_WORDS; k++) {
    h = Math.imul(h ^ w[k], 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class FlowSlots {
  /** Slots allocated now (grows by doubling up to max). */
  capacity = 0;
  count = 0;
  keys!: Uint32Array;
  hashes!: Uint32Array;
  /** The hash index: slot + 1, 0 for empty. */
  #index!: Int32Array;
  #mask = 0;
  prev!: Int32Array;
  next!: Int32Array;
  list!: Uint8Array;
  readonly heads = new Int32Array(LISTS).fill(-1);
  readonly tails = new Int32Array(LISTS).fill(-1);
  #free!: Int32Array;
  #freeCount = 0;
  /** Per slot and side (2 * slot + side): packets, frame bytes, payload bytes. */
  packets!: Float64Array;
  bytes!: Float64Array;
  payload!: Float64Array;
  /** Packet times: first and last as the raw int64 words, and last as a double (ns) for timeouts. */
  firstWords!: Uint32Array;
  lastWords!: Uint32Array;
  lastNs!: Float64Array;
  /** 1 when canonical side A (the key's first address) is the client. */
  clientIsA!: Uint8Array;
  /** TCP, per slot and side: flags seen, history letters seen (bits), highest sequence end sent (+ whether set). */
  flagsSeen!: Uint16Array;
  letters!: Uint16Array;
  seqEnd!: Uint32Array;
  seqSet!: Uint8Array;
  /** TCP handshake times (ns) for the RTT: SYN, SYN-ACK, and the RTT once the client's ACK came. */
  synNs!: Float64Array;
  synAckNs!: Float64Array;
  rttNs!: Float64Array;

  constructor(readonly max: number) {
    this.#allocate(Math.min(max, 1024));
  }

  #allocate(capacity: number): void {
    const old = this.capacity;
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T | undefined, make: (n: number) => T, per = 1): T => {
      const b = make(capacity * per);
      if (a !== undefined) b.set(a);
      return b;
    };
    this.keys = grow(this.keys, (n) => new Uint32Array(n), KEY_WORDS);
    this.hashes = grow(this.hashes, (n) => new Uint32Array(n));
    this.prev = grow(this.prev, (n) => new Int32Array(n));
    this.next = grow(this.next, (n) => new Int32Array(n));
    this.list = grow(this.list, (n) => new Uint8Array(n));
    this.packets = grow(this.packets, (n) => new Float64Array(n), 2);
    this.bytes = grow(this.bytes, (n) => new Float64Array(n), 2);
    this.payload = grow(this.payload, (n) => new Float64Array(n), 2);
    this.firstWords = grow(this.firstWords, (n) => new Uint32Array(n), 2);
    this.lastWords = grow(this.lastWords, (n) => new Uint32Array(n), 2);
    this.lastNs = grow(this.lastNs, (n) => new Float64Array(n));
    this.clientIsA = grow(this.clientIsA, (n) => new Uint8Array(n));
    this.flagsSeen = grow(this.flagsSeen, (n) => new Uint16Array(n), 2);
    this.letters = grow(this.letters, (n) => new Uint16Array(n), 2);
    this.seqEnd = grow(this.seqEnd, (n) => new Uint32Array(n), 2);
    this.seqSet = grow(this.seqSet, (n) => new Uint8Array(n), 2);
    this.synNs = grow(this.synNs, (n) => new Float64Array(n));
    this.synAckNs = grow(this.synAckNs, (n) => new Float64Array(n));
    this.rttNs = grow(this.rttNs, (n) => new Float64Array(n));
    const free = new Int32Array(capacity);
    if (this.#free !== undefined) free.set(this.#free.subarray(0, this.#freeCount));
    // New slots are handed out lowest first.
    for (let s = capacity - 1; s >= old; s--) {
      free[this.#freeCount++] = s;
      this.list[s] = 0xff;
    }
    this.#free = free;
    this.capacity = capacity;
    let size = 1;
    while (size < 2 * capacity) size *= 2;
    this.#index = new Int32Array(size);
    this.#mask = size - 1;
    for (let s = 0; s < old; s++) if (this.list[s] !== 0xff) this.#place(s);
  }

  /** True when a new flow needs an eviction first. */
  get full(): boolean {
    return this.#freeCount === 0 && this.capacity >= this.max;
  }

  /** The slot holding the key in w (hash h), or -1. */
  find(w: Uint32Array, h: number): number {
    const index = this.#index;
    const keys = this.keys;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const e = index[i];
      if (e === 0) return -1;
      const s = e - 1;
      if (this.hashes[s] !== h) continue;
      const o = s * KEY_WORDS;
      if (keys[o] === w[0] && keys[o + 1] === w[1] && keys[o + 2] === w[2] && keys[o + 3] === w[3] && keys[o + 4] === w[4] &&
        keys[o + 5] === w[5] && keys[o + 6] === w[6] && keys[o + 7] === w[7] && keys[o + 8] === w[8] && keys[o + 9] === w[9]) return s;
    }
  }

  /** A new slot for the key (the caller made room), its counters zeroed, at the tail of list. */
  insert(w: Uint32Array, h: number, list: number): number {
    if (this.#freeCount === 0) this.#allocate(Math.min(this.max, this.capacity * 2));
    const s = this.#free[--this.#freeCount];
    this.keys.set(w, s * KEY_WORDS);
    this.hashes[s] = h;
    this.#place(s);
    this.count++;
    const two = 2 * s;
    this.packets[two] = this.packets[two + 1] = 0;
    this.bytes[two] = this.bytes[two + 1] = 0;
    this.payload[two] = this.payload[two + 1] = 0;
    this.flagsSeen[two] = this.flagsSeen[two + 1] = 0;
    this.letters[two] = this.letters[two + 1] = 0;
    this.seqSet[two] = this.seqSet[two + 1] = 0;
    this.synNs[s] = this.synAckNs[s] = this.rttNs[s] = -1;
    this.list[s] = list;
    this.#append(s, list);
    return s;
  }

  #place(s: number): void {
    const index = this.#index;
    let i = this.hashes[s] & this.#mask;
    while (index[i] !== 0) i = (i + 1) & this.#mask;
    index[i] = s + 1;
  }

  /** Frees slot s. */
  remove(s: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let i = this.hashes[s] & mask;
    while (index[i] !== s + 1) i = (i + 1) & mask;
    // Backward shift: pull later entries of the run into the hole when their home allows it.
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[index[j] - 1] & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
    this.#unlink(s);
    this.list[s] = 0xff;
    this.#free[this.#freeCount++] = s;
    this.count--;
  }

  /** Moves s to the tail of list (it was just seen). */
  touch(s: number, list: number): void {
    if (this.list[s] === list && this.tails[list] === s) return;
    this.#unlink(s);
    this.list[s] = list;
    this.#append(s, list);
  }

  #append(s: number, list: number): void {
    const tail = this.tails[list];
    this.prev[s] = tail;
    this.next[s] = -1;
    if (tail >= 0) this.next[tail] = s;
    else this.heads[list] = s;
    this.tails[list] = s;
  }

  #unlink(s: number): void {
    const list = this.list[s];
    const p = this.prev[s];
    const n = this.next[s];
    if (p >= 0) this.next[p] = n;
    else this.heads[list] = n;
    if (n >= 0) this.prev[n] = p;
    else this.tails[list] = p;
  }

  /** The least recently seen slot of all lists, or -1. */
  oldest(): number {
    let best = -1;
    for (let l = 0; l < LISTS; l++) {
      const h = this.heads[l];
      if (h >= 0 && (best < 0 || this.lastNs[h] < this.lastNs[best])) best = h;
    }
    return best;
  }
}
