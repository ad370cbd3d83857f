import { WirecapError } from './errors';

/** A time as nanoseconds since the epoch: a bigint (ns), a number (ms) or a Date. */
export function toNanoseconds(time: bigint | number | Date, name = 'time'): bigint {
  if (typeof time === 'bigint') return time;
  if (time instanceof Date && !Number.isNaN(time.getTime())) return BigInt(time.getTime()) * 1_000_000n;
  if (typeof time === 'number' && Number.isFinite(time)) return BigInt(Math.round(time * 1e6)) * 1000n; // epoch milliseconds
  throw new WirecapError(`${name} must be a bigint (ns), a number (ms since the epoch) or a valid Date, got ${String(time)}`, 'EINVAL');
}
