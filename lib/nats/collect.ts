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
 * Several collectors may share a durable consumer, each with its own path.
 * A group one of them flushed but did not ack (it died, or stalled past the
 * ack wait) is then delivered to another, and may be written twice. So
 * whoever flushed a message claims it, after the flush and before the ack,
 * in a JetStream key-value bucket the collectors of a durable share (key:
 * the stream sequence, under the stream's and the consumer's creation
 * times; value: the collector's id). The bucket's create is
 * atomic, so one claim wins. The winner acks; a collector whose claim
 * lost cuts its files back to where that message's records began, and
 * gives back (nak) the messages after it. A claim is the proof a message
 * is in someone's files: claims go in message order, so every message of a
 * collector's files up to its last won claim is claimed. A redelivered
 * message that someone claimed is acked and skipped. Claims are kept for
 * claimsMs (default 1 hour): past that a group whose collector died after
 * its claim, and that no collector fetched meanwhile, could be written
 * again.
 */
import fs from 'node:fs';
import os from 'node:os';
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
  /** How long the collectors of a durable keep their claims (see the top of this file; default 3,600,000 ms). */
  claimsMs?: number;
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
  /** Messages this collector wrote but another claimed first (cut back out of its files). */
  claimsLost: number;
}

/** Where a message's records begin: the file (rotation index, path, first packet's time in ns) and its size. */
interface Position {
  index: number;
  file: string;
  bytes: number;
  started: string;
}

/** A message of a group: its stream sequence, ack subject, and (once written) where its records begin. */
type Entry = [seq: number, reply: string, at?: Position];

interface State {
  /** This collector's id in the claims. */
  id: string;
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
  #stats: CollectStats = { messages: 0, packets: 0, rejected: 0, duplicates: 0, files: 0, claimsLost: 0 };
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
  checkKeys(o, [...CONSUME_KEYS, 'write', 'log', 'claimsMs'], 'collectPackets');
  const c = checkConsume(o);
  if (c.durable === null) throw new WirecapError('collectPackets needs a durable consumer (files exactly once)', 'EINVAL');
  if (c.sensor !== undefined) throw new WirecapError('collectPackets takes every sensor: filter with filterSubject, or read with consumePackets', 'EINVAL');
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
  const claimsMs = o.claimsMs === undefined ? 3_600_000 : checkInteger(o.claimsMs, 'claimsMs', 60_000, 2 ** 31);
  const statePath = `${pattern}.state`;

  return new PacketCollector(async (stats, setStop) => {
    const sub = await Subscription.open(c);
    setStop(() => sub.stop());
    const nc = sub.nc;
    let state: State | null = fs.existsSync(statePath) ? (JSON.parse(fs.readFileSync(statePath, 'utf8')) as State) : null;
    const id = state?.id ?? `${os.hostname()}/${process.pid}/${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    let writer: Writer | null = null;
    const save = (next: State): void => {
      state = next;
      fs.writeFileSync(`${statePath}.tmp`, JSON.stringify(next));
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
    const answer = (entries: Entry[], verb: '+ACK' | '-NAK'): void => {
      for (const [, reply] of entries) nc.publish(reply, verb);
    };

    const bucket = `wirecap-claims-${c.stream}-${c.durable}`.replace(/[^A-Za-z0-9_-]/g, '_');
    // Claims are keyed <stream's creation>.<consumer's creation>.<sequence>:
    // a stream or consumer deleted and made again under its name starts
    // its sequences or deliveries afresh, and the old claims must not count.
    const { claims, scope } = await retrying(c.conn, `claims bucket ${bucket}`, async () => {
      const jsm = await nc.jetstreamManager();
      const stream = await jsm.streams.info(c.stream);
      const consumer = await jsm.consumers.info(c.stream, c.durable as string);
      const kv = await nc.jetstream().views.kv(bucket, { history: 1, ttl: claimsMs, replicas: stream.config.num_replicas });
      const stamp = (iso: string): string => iso.replace(/\D/g, '');
      return { claims: kv, scope: `${stamp(stream.created)}.${stamp(consumer.created)}` };
    });
    /** Who claimed seq: a collector id, or null. */
    const owner = (seq: number): Promise<string | null> =>
      retrying(c.conn, `claims bucket ${bucket}`, async () => {
        const entry = await claims.get(`${scope}.${seq}`);
        return entry === null || entry.operation !== 'PUT' ? null : entry.string();
      });
    /** Claims seq for this collector: true if the claim is (or already was) this collector's. */
    const claim = (seq: number): Promise<boolean> =>
      retrying(c.conn, `claims bucket ${bucket}`, async () => {
        try {
          await claims.create(`${scope}.${seq}`, id);
          return true;
        } catch (error) {
          const who = await owner(seq);
          if (who === null) throw error; // not a lost race: try again
          return who === id;
        }
      });

    /** Cuts the files back to at: later files of the rotation go, the file at it is cut to at.bytes and written on from there. */
    const cutBack = (at: Position): Writer => {
      writer?.close();
      if (rotating) for (const f of rotatedFiles(pattern)) if (f.index > at.index) fs.rmSync(f.file, { force: true });
      return createWriter(at.file, { ...state!.writer, resumeAt: at.bytes });
    };
    /**
     * Claims a flushed group's messages in order and acks those won. At the
     * first claim lost, the files are cut back to where that message began,
     * it is acked (it is in the winner's files) and the rest are given back.
     * Returns how many messages stay in this collector's files.
     */
    const settle = async (entries: Entry[]): Promise<number> => {
      let won = 0;
      while (won < entries.length && (await claim(entries[won][0]))) won++;
      crashPoint('claimed');
      answer(entries.slice(0, won), '+ACK');
      // The message whose claim was lost is in the winner's files; those given back are in nobody's.
      remember(entries.slice(0, won + 1).map(([seq]) => seq));
      if (won < entries.length) {
        const at = entries[won][2]!;
        writer = cutBack(at);
        save({ ...state!, phase: 'flushed', index: at.index, file: at.file, bytes: at.bytes, started: at.started, group: entries.slice(0, won) });
        answer(entries.slice(won, won + 1), '+ACK');
        answer(entries.slice(won + 1), '-NAK');
        stats.duplicates++;
        stats.claimsLost++;
      }
      return won;
    };

    if (state !== null) {
      // Cut back to what the state vouches for, then settle the groups it names.
      const s: State = state;
      writer = cutBack(s);
      stats.files++;
      answer(s.previous, '+ACK');
      remember(s.previous.map(([seq]) => seq));
      if (s.phase === 'flushed') await settle(s.group);
      else answer(s.group, '-NAK');
      await nc.flush().catch(() => undefined); // an answer that does not come: the acks went out all the same, or the messages come back after the ack wait
      // Messages the collector before this one fetched but never wrote come
      // back only after the ack wait, and newer ones would be fetched first.
      // So a restarted collector waits the ack wait out while the consumer
      // has messages outstanding: they then come first.
      const info = await retrying(c.conn, `stream ${c.stream}`, async () => (await nc.jetstreamManager()).consumers.info(c.stream, c.durable as string));
      if (info.num_ack_pending > 0) await new Promise((resolve) => setTimeout(resolve, natsJs().millis(info.config.ack_wait ?? 0) + 1000));
    }

    const open = (first: bigint, batch: NatsBatch, index: number, group: Entry[]): Writer => {
      const opts: State['writer'] = state?.writer ?? { format, linktype: batch.linktype, snaplen: 262144, precision: batch.precision };
      const name = rotating ? rotatedName(pattern, index, first) : pattern;
      const wr = createWriter(name, opts);
      stats.files++;
      if (rotating && keep !== 0) for (const f of rotatedFiles(pattern).slice(0, -keep)) fs.rmSync(f.file, { force: true });
      save({ id, phase: 'writing', index, file: name, bytes: wr.stats().bytes, started: String(first), writer: opts, group, previous: state?.previous ?? [] });
      return wr;
    };
    const position = (): Position => ({ index: state!.index, file: state!.file, bytes: writer!.stats().bytes, started: state!.started });

    try {
      for (;;) {
        const group = await sub.next();
        if (group === null) break;
        const take: Array<{ m: Nats.JsMsg; batch: NatsBatch }> = [];
        for (const m of group) {
          // Delivered before: in these files (skip) or, claimed, in some collector's.
          if (skip.has(m.seq) || (m.redelivered && (await owner(m.seq)) !== null)) {
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
          save({ ...s, id, phase: 'writing', bytes: writer?.stats().bytes ?? s.bytes, previous: s.phase === 'flushed' ? s.group : s.previous, group: entries });
        }
        const counts: number[] = [];
        for (const [i, { batch }] of take.entries()) {
          counts.push(batch.packets.length);
          for (const p of batch.packets) {
            if (writer === null) {
              writer = open(p.timestamp, batch, 1, entries);
            } else if (rotating) {
              const s = state as unknown as State;
              const full = fileBytes !== 0 && writer.stats().bytes + 36 + p.caplen > fileBytes; // a pcapng block at most
              const old = fileSeconds !== 0 && p.timestamp - BigInt(s.started) >= BigInt(fileSeconds) * 1_000_000_000n;
              if ((full || old) && writer.stats().packets > 0) {
                entries[i][2] ??= position();
                writer.close();
                writer = open(p.timestamp, batch, s.index + 1, entries);
              }
            }
            entries[i][2] ??= position();
            writer.write(p);
            stats.packets++;
          }
        }
        writer!.flush();
        save({ ...(state as unknown as State), phase: 'flushed', bytes: writer!.stats().bytes, group: entries });
        crashPoint('flushed');
        const won = await settle(entries);
        stats.messages += won;
        for (const n of counts.slice(won)) stats.packets -= n;
      }
    } finally {
      writer?.close();
      await sub.close();
    }
  });
}

/**
 * For the fault tests: WIRECAP_COLLECTOR_DIES='<point>:<n>' kills the
 * process (SIGKILL) the n-th time it reaches point, 'flushed' (a group in
 * the files, not yet claimed) or 'claimed' (claimed, not yet acked).
 */
const dies = /^(flushed|claimed):(\d+)$/.exec(process.env.WIRECAP_COLLECTOR_DIES ?? '');
let reached = 0;
function crashPoint(point: 'flushed' | 'claimed'): void {
  if (dies !== null && dies[1] === point && ++reached === Number(dies[2])) process.kill(process.pid, 'SIGKILL');
}

function rotatedName(pattern: string, index: number, first: bigint): string {
  const { dir, name, ext } = path.parse(pattern);
  return path.join(dir, `${name}_${String(index).padStart(6, '0')}_${utcStamp(first)}${ext}`);
}
