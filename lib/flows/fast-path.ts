/**
 * FlowTracker's native fast path (src-native/flows/flow_pass.h): over a
 * batch, it takes the packets of held flows and those that start a flow in
 * a free slot, in place in the table's arrays, and stops at the first one
 * the tracker must take itself. Used only when the tracker hands no bytes
 * to stream handlers (those need every packet in JavaScript).
 */
import type { PacketBatch } from '../capture/batch';
import { binding, type FlowPass } from '../core/binding';
import { WirecapError } from '../core/errors';
import { FlowSlots, LAYOUT } from './table';

const BASE_HIGH = 0;
const BASE_LOW = 1;
const NOW = 2;
const TIMEOUTS = 3;
const NEXT_ID = TIMEOUTS + 4;

/** Whether the native layout was found to match (checked once, at the first tracker). */
let layoutChecked = false;

function checkLayout(): void {
  if (layoutChecked) return;
  const native = binding.FlowPass.layout();
  for (const [name, value] of Object.entries(LAYOUT)) {
    if (native[name] !== value) throw new WirecapError(`the native addon was built for another flow table layout (${name}: ${native[name]}, lib/flows/table.ts: ${value}): rebuild it`, 'ELOAD');
  }
  layoutChecked = true;
}

export class FastPath {
  readonly #pass: FlowPass;
  readonly #clock = new Float64Array(NEXT_ID + 1);
  /** The table's slot array the native side was last given (a new one after the table grows). */
  #u: Uint32Array | null = null;

  constructor(readonly slots: FlowSlots, timeouts: Float64Array) {
    checkLayout();
    this.#pass = new binding.FlowPass();
    this.#clock.set(timeouts, TIMEOUTS);
  }

  /** The base time's words (the first packet's), once the tracker has it. */
  base(high: number, low: number): void {
    this.#clock[BASE_HIGH] = high;
    this.#clock[BASE_LOW] = low;
  }

  /** The batch the next run() calls read; words: its timestamps as 32-bit words. */
  batch(batch: PacketBatch, words: Uint32Array): void {
    this.#pass.batch(batch.data, batch.offsets, batch.caplens, batch.lens, words, batch.count);
  }

  /** Takes packets from `from` on; now: the latest packet time so far; nextId: the next flow's id. Returns the first packet not taken. */
  run(from: number, now: number, nextId: number): number {
    const s = this.slots;
    if (this.#u !== s.u) {
      this.#u = s.u;
      this.#pass.table(s.u, s.index, s.links, s.heads, s.tails, s.free, s.sizes, this.#clock);
    }
    this.#clock[NOW] = now;
    this.#clock[NEXT_ID] = nextId;
    return this.#pass.run(from);
  }

  /** After run(): the latest packet time. */
  latest(): number {
    return this.#clock[NOW];
  }

  /** After run(): the next flow id (run() numbered the flows it created from the one given). */
  nextId(): number {
    return this.#clock[NEXT_ID];
  }
}
