/**
 * The flow table's storage: flows live in fixed-size slots of one
 * ArrayBuffer (192 bytes each, read through 32-bit and 64-bit views), so a
 * packet touches a few cache lines of its flow rather than one per field:
 * what every packet reads and writes is in a slot's first 128 bytes (key
 * and flags; counters, times and sequence ends), what a flow's start, end
 * and handshake touch in the last 64.
 * Slots are found through an open-addressing hash index (linear probing,
 * deletion by backward shift, so no tombstones) that holds each key's hash
 * beside its slot. Each slot sits in one of four least-recently-seen lists
 * (TCP, TCP closed, UDP, other) whose heads are the next to time out; the
 * links are an array of their own, small enough to stay in the cache, so
 * moving a flow to its list's tail touches no other flow's slot. Nothing
 * here allocates per packet. The native fast path (fast-path.ts) updates
 * the same arrays in place.
 */

/** Words of a key: two 4-word addresses, the ports, then protocol | version << 8 | vlan << 16. */
export const KEY_WORDS = 10;

export const LIST_TCP = 0;
export const LIST_TCP_CLOSED = 1;
export const LIST_UDP = 2;
export const LIST_OTHER = 3;
const LISTS = 4;
/** FlowSlots.sizes: flows held, free slots. */
const COUNT = 0;
const FREE_COUNT = 1;

/** A slot's 32-bit words (u32 view, slot s at s * W). Bytes 0-63: the key words (0-9), then: */
export const W = 48;
const HASH = 10;
/** (Words 11 and 12 are free: a slot's list links are in FlowSlots.links, which stays in the cache.) */
/** list (bits 0-7), clientIsA (bit 8), sequence end set (bits 9 and 10, per side), client guessed (bit 11), first packet from the server (bit 12), handshake RTT awaited (bit 13). */
const META = 13;
/** Per side: TCP flags seen (low 16 bits), history letters seen (high 16). */
export const FLAGS = 14;
/** A slot's doubles (f64 view, slot s at s * D). Bytes 64-127: the last packet's time in ns (for timeouts), then per side frame bytes and payload bytes. */
export const D = W / 2;
export const LAST_NS = 8;
export const BYTES = 9;
export const PAYLOAD = 11;
/** Bytes 64-127 (words): the last packet's time as the int64's two words (low, high); per side packets (low 32 bits), the highest TCP sequence end sent. */
export const LAST = 26;
const PACKETS = 28;
export const SEQ_END = 30;
/** Bytes 128-191 (words): the first packet's time; history letters in the order they came, 4 bits each (1 + letter + 7 * side), 16 at most over two words; per side packets' high 32 bits. */
export const FIRST = 32;
export const HISTORY = 34;
const PACKETS_HIGH = 36;
/** Bytes 128-191 (doubles): handshake times and the RTT (-1 unset); the flow's id (records are made only when a flow ends or a stream factory asks for one). */
export const SYN_NS = 19;
export const SYN_ACK_NS = 20;
export const RTT_NS = 21;
export const ID = 22;
const CLIENT_IS_A = 0x100;
export const GUESSED = 0x800;
export const FLIPPED = 0x1000;
export const RTT_AWAITED = 0x2000;
/** What the native fast path (src-native/flows/flow_pass.cc) writes in place: it must be built for this layout. */
export const LAYOUT: Record<string, number> = {
  W, KEY_WORDS, HASH, META, FLAGS, LAST_NS, BYTES, PAYLOAD, LAST, PACKETS, SEQ_END, PACKETS_HIGH, HISTORY, FIRST, SYN_NS, SYN_ACK_NS, RTT_NS, ID, LIST_TCP, LIST_TCP_CLOSED, LIST_UDP, LIST_OTHER, CLIENT_IS_A, GUESSED, FLIPPED, RTT_AWAITED, COUNT, FREE_COUNT,
};

/** A 30-bit hash of the key words at w[o..] (murmur3's finalizer over a running mix), small enough to stay a V8 small integer. */
export function hashKey(w: Uint32Array, o: number): number {
  let h = 0x9747b28c;
  for (let k = 0; k < KEY_WORDS; k++) {
    h = Math.imul(h ^ w[o + k], 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

export class FlowSlots {
  /** Slots allocated now (grows by doubling up to max). */
  capacity = 0;
  /** Flows held, and free slots (FREE_COUNT: the free list's length): shared with the native fast path, which creates flows too. */
  readonly sizes = new Int32Array(2);
  u!: Uint32Array;
  f!: Float64Array;
  /** The hash index, two words an entry: slot + 1 (0 for empty), then the slot's key hash, so probing past other keys reads no slot (replaced when the table grows). */
  #index!: Int32Array;
  #mask = 0;
  /** Each slot's list links, two words a slot: the previous and the next slot in its list (-1: none). */
  links!: Int32Array;
  readonly heads = new Int32Array(LISTS).fill(-1);
  readonly tails = new Int32Array(LISTS).fill(-1);
  /** Free slots, the next one handed out last. */
  free!: Int32Array;

  constructor(readonly max: number) {
    this.#allocate(Math.min(max, 1024));
  }

  #allocate(capacity: number): void {
    const old = this.capacity;
    const buffer = new ArrayBuffer(capacity * W * 4);
    const u = new Uint32Array(buffer);
    if (this.u !== undefined) u.set(this.u);
    this.u = u;
    this.f = new Float64Array(buffer);
    const links = new Int32Array(2 * capacity);
    if (this.links !== undefined) links.set(this.links);
    this.links = links;
    const free = new Int32Array(capacity);
    if (this.free !== undefined) free.set(this.free.subarray(0, this.sizes[FREE_COUNT]));
    // New slots are handed out lowest first.
    for (let s = capacity - 1; s >= old; s--) {
      free[this.sizes[FREE_COUNT]++] = s;
      u[s * W + META] = 0xff;
    }
    this.free = free;
    this.capacity = capacity;
    let size = 1;
    while (size < 2 * capacity) size *= 2;
    this.#index = new Int32Array(2 * size);
    this.#mask = size - 1;
    for (let s = 0; s < old; s++) if (this.listOf(s) !== 0xff) this.#place(s);
  }

  get index(): Int32Array {
    return this.#index;
  }

  /** Flows held. */
  get count(): number {
    return this.sizes[COUNT];
  }

  /** True when a new flow needs an eviction first. */
  get full(): boolean {
    return this.sizes[FREE_COUNT] === 0 && this.capacity >= this.max;
  }

  listOf(s: number): number {
    return this.u[s * W + META] & 0xff;
  }

  clientIsA(s: number): boolean {
    return (this.u[s * W + META] & CLIENT_IS_A) !== 0;
  }

  setClientIsA(s: number, yes: boolean): void {
    if (yes) this.u[s * W + META] |= CLIENT_IS_A;
    else this.u[s * W + META] &= ~CLIENT_IS_A;
  }

  /** Meta bits (GUESSED, FLIPPED): test and set. */
  has(s: number, bit: number): boolean {
    return (this.u[s * W + META] & bit) !== 0;
  }

  mark(s: number, bit: number): void {
    this.u[s * W + META] |= bit;
  }

  unmark(s: number, bit: number): void {
    this.u[s * W + META] &= ~bit;
  }

  /** Counts a packet from side (0 client, 1 server). */
  countPacket(s: number, side: number): void {
    const x = s * W + PACKETS + side;
    const n = (this.u[x] + 1) >>> 0;
    this.u[x] = n;
    if (n === 0) this.u[s * W + PACKETS_HIGH + side]++;
  }

  packets(s: number, side: number): number {
    return this.u[s * W + PACKETS_HIGH + side] * 4294967296 + this.u[s * W + PACKETS + side];
  }

  /** Whether side's highest sequence end is set, and setting it. */
  seqSet(s: number, side: number): boolean {
    return (this.u[s * W + META] & (0x200 << side)) !== 0;
  }

  markSeq(s: number, side: number): void {
    this.u[s * W + META] |= 0x200 << side;
  }

  /** The slot holding the key at w[k..] (hash h), or -1. */
  find(w: Uint32Array, k: number, h: number): number {
    const index = this.#index;
    const u = this.u;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const e = index[2 * i];
      if (e === 0) return -1;
      if (index[2 * i + 1] !== h) continue;
      const o = (e - 1) * W;
      if (u[o] === w[k] && u[o + 1] === w[k + 1] && u[o + 2] === w[k + 2] && u[o + 3] === w[k + 3] && u[o + 4] === w[k + 4] &&
        u[o + 5] === w[k + 5] && u[o + 6] === w[k + 6] && u[o + 7] === w[k + 7] && u[o + 8] === w[k + 8] && u[o + 9] === w[k + 9]) return e - 1;
    }
  }

  /** A new slot for the key at w[k..] (the caller made room), its counters zeroed, at the tail of list. */
  insert(w: Uint32Array, k: number, h: number, list: number): number {
    if (this.sizes[FREE_COUNT] === 0) this.#allocate(Math.min(this.max, this.capacity * 2));
    const s = this.free[--this.sizes[FREE_COUNT]];
    const o = s * W;
    this.u.fill(0, o, o + W);
    for (let j = 0; j < KEY_WORDS; j++) this.u[o + j] = w[k + j];
    this.u[o + HASH] = h;
    this.u[o + META] = list;
    const fo = s * D;
    this.f[fo + SYN_NS] = this.f[fo + SYN_ACK_NS] = this.f[fo + RTT_NS] = -1;
    this.#place(s);
    this.sizes[COUNT]++;
    this.#append(s, list);
    return s;
  }

  #place(s: number): void {
    const index = this.#index;
    const h = this.u[s * W + HASH];
    let i = h & this.#mask;
    while (index[2 * i] !== 0) i = (i + 1) & this.#mask;
    index[2 * i] = s + 1;
    index[2 * i + 1] = h;
  }

  /** Frees slot s. */
  remove(s: number): void {
    const index = this.#index;
    const mask = this.#mask;
    const u = this.u;
    let i = u[s * W + HASH] & mask;
    while (index[2 * i] !== s + 1) i = (i + 1) & mask;
    // Backward shift: pull later entries of the run into the hole when their home allows it.
    for (let j = (i + 1) & mask; index[2 * j] !== 0; j = (j + 1) & mask) {
      const home = index[2 * j + 1] & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        index[2 * i] = index[2 * j];
        index[2 * i + 1] = index[2 * j + 1];
        i = j;
      }
    }
    index[2 * i] = 0;
    this.#unlink(s);
    u[s * W + META] = 0xff;
    this.free[this.sizes[FREE_COUNT]++] = s;
    this.sizes[COUNT]--;
  }

  /** Moves s to the tail of list (it was just seen). */
  touch(s: number, list: number): void {
    const o = s * W + META;
    if ((this.u[o] & 0xff) === list && this.tails[list] === s) return;
    this.#unlink(s);
    this.u[o] = (this.u[o] & ~0xff) | list;
    this.#append(s, list);
  }

  #append(s: number, list: number): void {
    const links = this.links;
    const tail = this.tails[list];
    links[2 * s] = tail;
    links[2 * s + 1] = -1;
    if (tail >= 0) links[2 * tail + 1] = s;
    else this.heads[list] = s;
    this.tails[list] = s;
  }

  #unlink(s: number): void {
    const links = this.links;
    const list = this.listOf(s);
    const p = links[2 * s];
    const n = links[2 * s + 1];
    if (p >= 0) links[2 * p + 1] = n;
    else this.heads[list] = n;
    if (n >= 0) links[2 * n] = p;
    else this.tails[list] = p;
  }

  lastNs(s: number): number {
    return this.f[s * D + LAST_NS];
  }

  /** The least recently seen slot of all lists, or -1. */
  oldest(): number {
    let best = -1;
    for (let l = 0; l < LISTS; l++) {
      const h = this.heads[l];
      if (h >= 0 && (best < 0 || this.lastNs(h) < this.lastNs(best))) best = h;
    }
    return best;
  }
}
