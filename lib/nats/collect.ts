/**
 * collectPackets(): a collector that writes a JetStream stream's packets to
 * capture files through the shared writer, rotating like the dumps, and
 * acks a message only once its bytes are flushed to the file.
 *
 * Exactly once into files, across a collector killed at any point and
 * restarted with the same path: a state file (<path>.state) is replaced
 * (write, then rename) twice per group of fetched messages:
 *   1. 'writing': the current file, its size before the group, and the
 *      group's stream sequences and ack subjects (and the previous group's);
 *   2. 'flushed': after the records are written and flushed, the file
 *      (rotation may have moved on) and its size after the group.
 * Then the group is acked. On restart the file is cut back to the size the
 * state names and files of the rotation beyond it are removed, so nothing
 * written after the state survives. After 'writing' the group was not in
 * the files: it is nak'ed, so it is delivered again at once, before
 * anything newer (redeliveries go first). After
 * 'flushed' the group is in the files: it (and the group before) is acked
 * again, and if delivered again anyway it is acked and skipped by its
 * stream sequence. A collector killed during a fetch, before any state,
 * held messages it never wrote: they come back after the consumer's ack
 * wait; a restarted collector waits the ack wait out before fetching
 * while the consumer has messages outstanding, so they still come before
 * anything newer.
 *
 * Several collectors may share a durable consumer, each with its own path;
 * a group that one of them wrote but died before acking can then be
 * delivered to another before the first comes back, and be in both files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as Nats from 'nats';
import { WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkString } from '../core/validate';
import { createWriter, Writer, WriterOptions } from '../files/writer';
import { natsJs, retrying } from './connection';
import { checkConsume, CONSUME_KEYS, ConsumeOptions, decodeMessage, replyOf, Subscription } from './consume';
import { NatsBatch } from './framing';

export interface CollectOptions extends ConsumeOptions {
  write: {
    /** The file, or with rotation the pattern <name>_<NNNNNN>_<YYYYMMDDThhmmssZ><.ext>, as dumps name theirs. */
    path: string;
    format?: 'pcap' | 'pcapng';
    /** As a dump's rotate: fileBytes, fileSeconds (by packet time), files (keep the newest). */
    rotate?: { fileBytes?: number; fileSeconds?: number; files?: number };
  };
  /** Where rejected messages are reported (default: console.error). */
  log?: (message: string) => void;
}

export interface CollectStats {
  /** Messages written and acked. */
  messages: number;
  /** Packets written. */
  packets: number;
  /** Messages terminated because they were not wirecap's framing (EPROTO) or of another link type. */
  rejected: number;
  /** Messages delivered again that were already in the files, acked and skipped. */
  duplicates: number;
  /** Files started (or resumed) by this collector. */
  files: number;
}

type Entry = [seq: number, reply: string];

interface State {
  phase: 'writing' | 'flushed';
  /** The file written now: its rotation index (0 without rotation), path, size, and first packet's time (ns). */
  index: number;
  file: string;
  bytes: number;
  started: string;
  writer: Required<Pick<WriterOptions, 'format' | 'linktype' | 'snaplen' | 'precision'>>;
  group: Entry[];
  previous: Entry[];
}

/** A running collector. done resolves with the stats once stop() was called and the last group is in the files. */
export class PacketCollector {
  readonly done: Promise<CollectStats>;
  #stats: CollectStats = { messages: 0, packets: 0, rejected: 0, duplicates: 0, files: 0 };
  #stop: () => void = () => {};

  /** @internal use collectPackets() */
  constructor(body: (stats: CollectStats, setStop: (stop: () => void) => void) => Promise<void>) {
    this.done = body(this.#stats, (stop) => (this.#stop = stop)).then(() => this.stats());
  }

  stats(): CollectStats {
    return { ...this.#stats };
  }

  /** Finishes the group under way, then closes the file and the connection. */
  stop(): void {
    this.#stop();
  }
}

function utcStamp(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Rotated files of pattern on disk, by index. */
function rotatedFiles(pattern: string): Array<{ index: number; file: string }> {
  const { dir, name, ext } = path.parse(pattern);
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d{6})_\\d{8}T\\d{6}Z${ext.replace('.', '\\.')}$`);
  const files: Array<{ index: number; file: string }> = [];
  for (const f of fs.readdirSync(dir || '.')) {
    const m = re.exec(f);
    if (m) files.push({ index: Number(m[1]), file: path.join(dir, f) });
  }
  return files.sort((a, b) => a.index - b.index);
}

/** Consumes the stream and writes its packets to files until stop(); see the top of this file. */
export function collectPackets(options: CollectOptions): PacketCollector {
  const o = checkObject(options, 'options');
  checkKeys(o, [...CONSUME_KEYS, 'write', 'log'], 'collectPackets');
  const c = checkConsume(o);
  const w = checkObject(o.write, 'write');
  checkKeys(w, ['path', 'format', 'rotate'], 'write');
  const pattern = checkString(w.path, 'write.path');
  const format = w.format === undefined ? 'pcap' : checkOneOf(w.format, 'write.format', ['pcap', 'pcapng'] as const);
  const r = checkObject(w.rotate, 'write.rotate');
  checkKeys(r, ['fileBytes', 'fileSeconds', 'files'], 'write.rotate');
  const fileBytes = r.fileBytes === undefined ? 0 : checkInteger(r.fileBytes, 'write.rotate.fileBytes', 4096, Number.MAX_SAFE_INTEGER);
  const fileSeconds = r.fileSeconds === undefined ? 0 : checkInteger(r.fileSeconds, 'write.rotate.fileSeconds', 1, 10 ** 9);
  const keep = r.files === undefined ? 0 : checkInteger(r.files, 'write.rotate.files', 1, 10 ** 6);
  if (keep !== 0 && fileBytes === 0 && fileSeconds === 0) throw new WirecapError('write.rotate.files needs fileBytes or fileSeconds', 'EINVAL');
  const rotating = fileBytes !== 0 || fileSeconds !== 0;
  const log = o.log === undefined ? (m: string) => console.error(m) : (o.log as (m: string) => void);
  const statePath = `${pattern}.state`;

  return new PacketCollector(async (stats, setStop) => {
    const sub = await Subscription.open(c);
    setStop(() => sub.stop());
    const nc = sub.nc;
    let state: State | null = fs.existsSync(statePath) ? (JSON.parse(fs.readFileSync(statePath, 'utf8')) as State) : null;
    let writer: Writer | null = null;
    const save = (s: State): void => {
      fs.writeFileSync(`${statePath}.tmp`, JSON.stringify(s));
      fs.renameSync(`${statePath}.tmp`, statePath);
    };
    // Sequences written of the last few groups: a redelivery of one of them (its ack lost) is acked and skipped.
    const skip = new Set<number>();
    const recent: number[][] = [];
    const remember = (seqs: number[]): void => {
      for (const seq of seqs) skip.add(seq);
      recent.push(seqs);
      if (recent.length > 4) for (const seq of recent.shift()!) skip.delete(seq);
    };

    if (state !== null) {
      // Cut back to what the state vouches for, then settle the groups it names.
      if (rotating) for (const f of rotatedFiles(pattern)) if (f.index > state.index) fs.rmSync(f.file, { force: true });
      writer = createWriter(state.file, { ...state.writer, resumeAt: state.bytes });
      stats.files++;
      const acked = state.phase === 'flushed' ? [...state.previous, ...state.group] : state.previous;
      for (const [, reply] of acked) nc.publish(reply, '+ACK');
      remember(acked.map(([seq]) => seq));
      if (state.phase === 'writing') for (const [, reply] of state.group) nc.publish(reply, '-NAK');
      await nc.flush().catch(() => undefined); // an answer that does not come: the acks went out all the same, or the messages come back after the ack wait
    }
    // Messages the collector before this one fetched but never wrote come
    // back only after the ack wait, and newer ones would be fetched first. So
    // a restarted collector (one with a state) waits the ack wait out while
    // the consumer has messages outstanding: they then come first.
    if (state !== null) {
      const info = await retrying(c.conn, `stream ${c.stream}`, async () => (await nc.jetstreamManager()).consumers.info(c.stream, c.durable));
      if (info.num_ack_pending > 0) await new Promise((resolve) => setTimeout(resolve, natsJs().millis(info.config.ack_wait ?? 0) + 1000));
    }

    const open = (first: bigint, batch: NatsBatch, index: number): Writer => {
      const opts: State['writer'] = state?.writer ?? { format, linktype: batch.linktype, snaplen: 262144, precision: batch.precision };
      const name = rotating ? rotatedName(pattern, index, first) : pattern;
      const wr = createWriter(name, opts);
      stats.files++;
      if (rotating && keep !== 0) for (const f of rotatedFiles(pattern).slice(0, -keep)) fs.rmSync(f.file, { force: true });
      state = { phase: 'writing', index, file: name, bytes: wr.stats().bytes, started: String(first), writer: opts, group: state?.group ?? [], previous: state?.previous ?? [] };
      return wr;
    };

    try {
      for (;;) {
        const group = await sub.next();
        if (group === null) break;
        const take: Array<{ m: Nats.JsMsg; batch: NatsBatch }> = [];
        for (const m of group) {
          if (skip.has(m.seq)) {
            m.ack();
            stats.duplicates++;
            continue;
          }
          try {
            const batch = decodeMessage(m);
            if (state !== null && batch.linktype !== state.writer.linktype) {
              throw new WirecapError(`link type ${batch.linktype} where the files have ${state.writer.linktype}`, 'EPROTO');
            }
            take.push({ m, batch });
          } catch (error) {
            m.term();
            stats.rejected++;
            log(`wirecap collector: stream ${c.stream} sequence ${m.seq} terminated: ${(error as Error).message}`);
          }
        }
        if (take.length === 0) continue;
        const entries: Entry[] = take.map(({ m }) => [m.seq, replyOf(m)]);
        if (state !== null) {
          const s: State = state;
          state = { ...s, phase: 'writing', bytes: writer?.stats().bytes ?? s.bytes, previous: s.phase === 'flushed' ? s.group : s.previous, group: entries };
          save(state);
        }
        for (const { batch } of take) {
          for (const p of batch.packets) {
            if (writer === null) {
              writer = open(p.timestamp, batch, 1);
              (state as unknown as State).group = entries;
              save(state as unknown as State);
            } else if (rotating) {
              const s = state as unknown as State;
              const full = fileBytes !== 0 && writer.stats().bytes + 36 + p.caplen > fileBytes; // a pcapng block at most
              const old = fileSeconds !== 0 && p.timestamp - BigInt(s.started) >= BigInt(fileSeconds) * 1_000_000_000n;
              if ((full || old) && writer.stats().packets > 0) {
                writer.close();
                writer = open(p.timestamp, batch, s.index + 1);
              }
            }
            writer.write(p);
            stats.packets++;
          }
        }
        writer!.flush();
        const s = state as unknown as State;
        state = { ...s, phase: 'flushed', bytes: writer!.stats().bytes, group: entries };
        save(state);
        for (const { m } of take) m.ack();
        stats.messages += take.length;
        remember(entries.map(([seq]) => seq));
      }
    } finally {
      writer?.close();
      await sub.close();
    }
  });
}

function rotatedName(pattern: string, index: number, first: bigint): string {
  const { dir, name, ext } = path.parse(pattern);
  return path.join(dir, `${name}_${String(index).padStart(6, '0')}_${utcStamp(first)}${ext}`);
}
