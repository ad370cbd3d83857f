/** Argument checks shared by the public API; each throws EINVAL naming the option. */
import { invalid, WirecapError } from './errors';

export function checkKeys(options: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw invalid(`unknown ${what} option '${key}' (known: ${allowed.join(', ')})`);
    }
  }
}

export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${name} must be an object`);
  }
  return value as Record<string, unknown>;
}

export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${name} must be a non-empty string`);
  if (value.includes('\0')) throw invalid(`${name} must not contain NUL characters`);
  return value;
}

/**
 * Filters longer than this are refused before libpcap sees them: compiling
 * one blocks the calling thread (a 1 MB one takes about a second), and the
 * error would quote all of it.
 */
export const MAX_FILTER_CHARS = 65536;

/** A BPF filter's text: a string without NUL characters, at most MAX_FILTER_CHARS long (EFILTER otherwise). */
export function checkFilter(value: unknown, name = 'filter'): string {
  checkString(value, name);
  const text = value as string;
  if (text.length > MAX_FILTER_CHARS) {
    throw new WirecapError(`${name} is ${text.length} characters long; the longest accepted is ${MAX_FILTER_CHARS}`, 'EFILTER');
  }
  return text;
}

export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw invalid(`${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${String(value)}`);
  }
  return value as T;
}

export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalid('signal must be an AbortSignal');
  return value;
}
