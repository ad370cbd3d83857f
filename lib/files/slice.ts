/**
 * slice(): one or more capture files merged in timestamp order and cut to a
 * time window, written by the shared native writer. Each input is entered
 * with a seek to the window's start and read only until its end.
 */
import { Packet } from '../capture/batch';
import { WirecapError } from '../core/errors';
import { toNanoseconds } from '../core/time';
import { CaptureFile, openOffline } from './offline';
import { checkFilter, checkKeys, checkObject, checkOneOf, checkString } from '../core/validate';
import { createWriter } from './writer';

export interface SliceOptions {
  /** Keep packets at or after this time: bigint ns, number ms since the epoch, or a Date. Default: from the start. */
  start?: bigint | number | Date;
  /** Keep packets before this time (same forms). Default: to the end. */
  end?: bigint | number | Date;
  /** A BPF filter applied to every input. */
  filter?: string;
  /** 'pcap' (default) or 'pcapng'. */
  format?: 'pcap' | 'pcapng';
}

export interface SliceResult {
  packets: number;
  /** Packets' captured bytes written. */
  bytes: number;
  /** Bytes read from the inputs to find where to start. */
  seekBytes: number;
}

/**
 * Writes the packets of inputs with start ≤ timestamp < end to output,
 * merged by timestamp (ties keep the inputs' order). The inputs must share
 * a link type (EINVAL otherwise). The output is nanosecond when any input
 * is. An input whose clock stepped back is read until its first packet at
 * or after end.
 */
export async function slice(inputs: string[], output: string, options?: SliceOptions): Promise<SliceResult> {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new WirecapError('slice needs at least one input file', 'EINVAL');
  inputs.forEach((input, i) => checkString(input, `inputs[${i}]`));
  if (inputs.filter((input) => input === '-').length > 1) throw new WirecapError('standard input (-) can be one input only', 'EINVAL');
  checkString(output, 'output');
  const o = checkObject(options, 'options');
  checkKeys(o, ['start', 'end', 'filter', 'format'], 'slice');
  const start = o.start === undefined ? null : toNanoseconds(o.start as bigint, 'start');
  const end = o.end === undefined ? null : toNanoseconds(o.end as bigint, 'end');
  const format = o.format === undefined ? 'pcap' : checkOneOf(o.format, 'format', ['pcap', 'pcapng'] as const);
  const filter = o.filter === undefined ? undefined : checkFilter(o.filter);

  const files: CaptureFile[] = [];
  let seekBytes = 0;
  try {
    for (const input of inputs) {
      if (start === null || input === '-') {
        // Standard input cannot seek: its packets before start are read and skipped.
        files.push(openOffline(input, { filter, singleLinktype: true }));
      } else {
        const file = openOffline(input, { filter, seek: { time: start }, singleLinktype: true });
        seekBytes += file.position?.bytesRead ?? 0;
        files.push(file);
      }
    }
    const linktype = files[0].linktype;
    const other = files.find((f) => f.linktype !== linktype);
    if (other !== undefined) {
      throw new WirecapError(`${other.device} has link type ${other.linktypeName ?? other.linktype}, ${files[0].device} has ${files[0].linktypeName ?? linktype}: one file holds one link type`, 'EINVAL');
    }
    const writer = createWriter(output, {
      format,
      linktype,
      snaplen: Math.max(...files.map((f) => f.snaplen)),
      precision: files.some((f) => f.format !== 'pcap') ? 'nano' : 'micro',
    });
    let packets = 0;
    let bytes = 0;
    try {
      const iterators = files.map((f) => f[Symbol.asyncIterator]());
      const next = (k: number): Promise<Packet | null> => nextInWindow(files[k], iterators[k], start, end);
      const heads = await Promise.all(files.map((_, k) => next(k)));
      for (;;) {
        let i = -1;
        for (let k = 0; k < heads.length; k++) {
          const p = heads[k];
          if (p !== null && (i === -1 || p.timestamp < (heads[i] as Packet).timestamp)) i = k;
        }
        if (i === -1) break;
        const p = heads[i] as Packet;
        writer.write(p);
        packets++;
        bytes += p.caplen;
        heads[i] = await next(i);
      }
    } finally {
      writer.close();
    }
    return { packets, bytes, seekBytes };
  } finally {
    for (const f of files) f.close();
  }
}

/** The file's next packet inside [start, end), or null once it reached end (or its own end). */
async function nextInWindow(file: CaptureFile, it: AsyncIterator<Packet>, start: bigint | null, end: bigint | null): Promise<Packet | null> {
  for (;;) {
    const { value, done } = await it.next();
    if (done) return null;
    if (end !== null && value.timestamp >= end) {
      file.close();
      return null;
    }
    if (start === null || value.timestamp >= start) return value;
  }
}
