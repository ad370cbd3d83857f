/**
 * Points in time given as text, for "look back" options: a duration back
 * from now ('90s', '5m', '2h', '1d', '1500ms'), an ISO 8601 time, or 'now'.
 */
import { WirecapError } from './errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The time text names, read against now (default Date.now()); EINVAL for anything else. */
export function parseSince(text: string, now: number = Date.now()): Date {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (duration) return new Date(now - Number(duration[1]) * UNIT_MS[duration[2]]);
  if (text === 'now') return new Date(now);
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new WirecapError(`bad start time '${text}': use a duration back (90s, 5m, 2h, 1d), an ISO 8601 time or now`, 'EINVAL');
  return new Date(ms);
}
