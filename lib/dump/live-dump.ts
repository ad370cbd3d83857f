/**
 * liveDump(): a capture whose packets go only to a native dump, never to
 * JavaScript. It closes itself when the dump ends.
 */
import { Capture, LIVE_KEYS, LiveOptions, liveOptions } from '../capture/capture';
import { DumpOptions, Dumper } from './dumper';
import { AbortError } from '../core/errors';
import { checkSignal } from '../core/validate';

export type LiveDumpOptions = Omit<LiveOptions, 'queueBytes'> & DumpOptions;

const CAPTURE_KEYS = LIVE_KEYS.filter((k) => k !== 'queueBytes' && k !== 'signal');
const DUMP_KEYS = ['format', 'maxBytes', 'maxPackets', 'durationMs', 'rotate', 'mode'];

/**
 * Captures on device and writes what passes the filter to path until a
 * limit, stop() or the signal ends it. Aborting the signal stops the dump
 * as stop() does: nothing captured before is lost.
 */
export function liveDump(device: string, path: string, options?: LiveDumpOptions): Dumper {
  const all = { ...(options ?? {}) } as Record<string, unknown>;
  const captureOptions: Record<string, unknown> = {};
  const dumpOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key === 'signal') continue;
    (DUMP_KEYS.includes(key) ? dumpOptions : captureOptions)[key] = value;
  }
  const native = liveOptions(device, captureOptions, CAPTURE_KEYS, 'liveDump');
  const signal = checkSignal(all.signal);
  if (signal?.aborted) throw new AbortError(signal.reason);

  const capture = new Capture({ ...native, deliver: false });
  let dumper: Dumper;
  try {
    capture.onDumpEnded = () => capture.close();
    dumper = capture.dump(path, dumpOptions);
  } catch (error) {
    capture.close();
    throw error;
  }
  if (signal !== undefined) {
    const onAbort = (): void => void dumper.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    void dumper.done.then(() => signal.removeEventListener('abort', onAbort));
  }
  return dumper;
}
