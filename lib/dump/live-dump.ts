/**
 * liveDump(): captures whose packets go only to a native dump, never to
 * JavaScript. They close themselves when the dump ends. With several
 * devices, each has its own capture and thread, and all write one pcapng
 * file (see src-native/dump/dump.h for who writes what).
 */
import { Capture, LIVE_KEYS, LiveOptions, liveOptions } from '../capture/capture';
import { DumpOptions, Dumper } from './dumper';
import { AbortError, WirecapError } from '../core/errors';
import { checkKeys, checkObject, checkSignal, checkString } from '../core/validate';

export type LiveDumpOptions = Omit<LiveOptions, 'queueBytes'> & DumpOptions;

/** One device of a multi-device dump: a name, or a name with its own filter and description. */
export type DumpDevice =
  | string
  | {
      device: string;
      /** This device's filter, instead of the options' shared one. */
      filter?: string;
      /** The IDB's if_description; default: the system's description of the device, if any. */
      description?: string;
    };

const CAPTURE_KEYS = LIVE_KEYS.filter((k) => k !== 'queueBytes' && k !== 'signal');
const DUMP_KEYS = ['format', 'maxBytes', 'maxPackets', 'durationMs', 'rotate', 'mode'];

/**
 * Captures on device and writes what passes the filter to path until a
 * limit, stop() or the signal ends it. Aborting the signal stops the dump
 * as stop() does: nothing captured before is lost.
 *
 * Given a list of devices, writes them all into one pcapng file (format
 * defaults to 'pcapng', the only one allowed): one IDB per device, every
 * packet tagged with its device, one ISB per device at the end of each
 * file. Limits count the whole dump. A device that goes away ends only its
 * own part: result.interfaces[i].error says which one and why.
 */
export function liveDump(device: string | readonly DumpDevice[], path: string, options?: LiveDumpOptions): Dumper {
  const all = { ...(options ?? {}) } as Record<string, unknown>;
  const captureOptions: Record<string, unknown> = {};
  const dumpOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key === 'signal') continue;
    (DUMP_KEYS.includes(key) ? dumpOptions : captureOptions)[key] = value;
  }
  const devices = Array.isArray(device) ? dumpDevices(device) : null;
  const natives = (devices ?? [{ device: device as string }]).map((d) =>
    liveOptions(d.device, d.filter === undefined ? captureOptions : { ...captureOptions, filter: d.filter }, CAPTURE_KEYS, 'liveDump'),
  );
  const signal = checkSignal(all.signal);
  if (signal?.aborted) throw new AbortError(signal.reason);

  const captures: Capture[] = [];
  let dumper: Dumper;
  try {
    for (const native of natives) captures.push(new Capture({ ...native, deliver: false }));
    const [first, ...others] = captures;
    first.onDumpEnded = () => captures.forEach((c) => c.close());
    dumper =
      devices === null
        ? first.dump(path, dumpOptions)
        : first.dumpTogether(path, { format: 'pcapng', ...dumpOptions }, others, devices.map((d) => d.description));
  } catch (error) {
    captures.forEach((c) => c.close());
    throw error;
  }
  if (signal !== undefined) {
    const onAbort = (): void => void dumper.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    void dumper.done.then(() => signal.removeEventListener('abort', onAbort));
  }
  return dumper;
}

function dumpDevices(list: readonly DumpDevice[]): { device: string; filter?: string; description?: string }[] {
  if (list.length === 0) throw new WirecapError('liveDump needs at least one device', 'EINVAL');
  const devices = list.map((entry, i) => {
    if (typeof entry === 'string') return { device: checkString(entry, `devices[${i}]`) };
    const o = checkObject(entry, `devices[${i}]`);
    checkKeys(o, ['device', 'filter', 'description'], `devices[${i}]`);
    return {
      device: checkString(o.device, `devices[${i}].device`),
      ...(o.filter !== undefined ? { filter: checkString(o.filter, `devices[${i}].filter`) } : {}),
      ...(o.description !== undefined ? { description: checkString(o.description, `devices[${i}].description`) } : {}),
    };
  });
  const names = devices.map((d) => d.device);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new WirecapError(`device ${twice} is listed twice`, 'EINVAL');
  return devices;
}
