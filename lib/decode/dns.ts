/**
 * DNS messages: header, questions and the three record sections. A name
 * that does not parse gives a fixed reason (no string built on a path that
 * garbage on port 53 takes for every packet); the lists decoded so far show
 * where it was. Names
 * follow compression pointers; each name reads at most 255 bytes of labels
^ * and MAX_JUMPS pointers, so a message costs time linear in its size.
 */
import { cutShort, hexText, ipv4Text, ipv6Text, latin1Text, NONE, payload, stopAt, u16, u32 } from './bytes';
import type { Decoded, DnsData, DnsLayer, DnsQuestion, DnsRecord } from './types';

const MAX_JUMPS = 32;
const MAX_NAME = 255;

// readName's other results, kept here so that a name costs no object.
/** Where the name ended in the bytes it started in. */
let nameEnd = 0;
let nameProblem: 'truncated' | 'malformed' | null = null;
let nameReason = '';

/**
 * The name at `at` of the message that starts at `start` and ends at `end`;
 * '' is the root. It is walked once to check it and then again to write it,
 * so that a bad name costs no string.
 */
function readName(d: Uint8Array, start: number, at: number, end: number): string {
  if (!walkName(d, start, at, end)) return '';
  // Labels are gathered into one buffer and turned into a string once.
  let n = 0;
  for (;;) {
    const length = d[at];
    if (length === 0) return n === 0 ? '' : scratch.toString('latin1', 0, n);
    if (length >= 0xc0) {
      at = start + (((length & 0x3f) << 8) | d[at + 1]);
      continue;
    }
    if (n !== 0) scratch[n++] = 0x2e; // '.'
    for (let i = at + 1; i <= at + length; i++) scratch[n++] = d[i];
    at += 1 + length;
  }
}

/** A name's text is at most 254 characters (walkName checks it). */
const scratch = Buffer.allocUnsafe(256);

/** Checks the name at `at`: sets nameEnd, or nameProblem and nameReason. */
function walkName(d: Uint8Array, start: number, at: number, end: number): boolean {
  let wireLength = 1;
  let jumps = 0;
  nameEnd = -1;
  nameProblem = null;
  for (;;) {
    if (at >= end) return nameFails(jumps === 0 ? 'truncated' : 'malformed', 'name runs past the end of the message');
    const length = d[at];
    if (length === 0) {
      if (nameEnd < 0) nameEnd = at + 1;
      return true;
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (at + 1 >= end) return nameFails('truncated', 'compression pointer cut');
      if (nameEnd < 0) nameEnd = at + 2;
      if (++jumps > MAX_JUMPS) return nameFails('malformed', 'more than 32 compression pointers in a name (a loop)');
      const target = start + (((length & 0x3f) << 8) | d[at + 1]);
      if (target >= end) return nameFails('malformed', 'compression pointer beyond the message');
      at = target;
      continue;
    }
    if (kind !== 0) return nameFails('malformed', kind === 0x40 ? 'extended label type 0x40 is not supported' : 'label type 0x80 is not supported');
    wireLength += length + 1;
    if (wireLength > MAX_NAME) return nameFails('malformed', 'name longer than 255 bytes');
    if (at + 1 + length > end) return nameFails(jumps === 0 ? 'truncated' : 'malformed', 'label runs past the end of the message');
    at += 1 + length;
  }
}

function nameFails(problem: 'truncated' | 'malformed', reason: string): false {
  nameProblem = problem;
  nameReason = reason;
  return false;
}

export function dns(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'dns', 'DNS header', 12, off, end)) return;
  const layer: DnsLayer = {
    layer: 'dns',
    id: u16(d, off),
    flags: u16(d, off + 2),
    questionCount: u16(d, off + 4),
    answerCount: u16(d, off + 6),
    authorityCount: u16(d, off + 8),
    additionalCount: u16(d, off + 10),
    questions: NONE,
    answers: NONE,
    authorities: NONE,
    additionals: NONE,
  };
  out.layers.push(layer);
  let at = off + 12;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < layer.questionCount; i++) {
    const name = readName(d, off, at, end);
    if (nameProblem !== null) return stopAt(out, layer, nameProblem, nameReason, at, end);
    at = nameEnd;
    if (end - at < 4) return stopAt(out, layer, 'truncated', 'question type and class cut', at, end);
    const question: DnsQuestion = { name, type: u16(d, at), class: u16(d, at + 2) };
    if (i === 0) layer.questions = questions;
    questions.push(question);
    at += 4;
  }
  at = records(d, off, at, end, 'answers', layer.answerCount, layer, out);
  if (at >= 0) at = records(d, off, at, end, 'authorities', layer.authorityCount, layer, out);
  if (at >= 0) at = records(d, off, at, end, 'additionals', layer.additionalCount, layer, out);
  if (at >= 0) payload(out, at, end);
}

const SECTION_NAMES = { answers: 'answer', authorities: 'authority', additionals: 'additional' };

/** count records from at into the layer's section; where they end, or -1 once decoding stopped at one. */
function records(d: Uint8Array, off: number, at: number, end: number, key: keyof typeof SECTION_NAMES, count: number, layer: DnsLayer, out: Decoded): number {
  const section = SECTION_NAMES[key];
  const list: DnsRecord[] = [];
  for (let i = 0; i < count; i++) {
    const name = readName(d, off, at, end);
    if (nameProblem !== null) return stopped(out, layer, nameProblem, nameReason, at, end);
    at = nameEnd;
    if (end - at < 10) return stopped(out, layer, 'truncated', `${section} ${i}: record header cut`, at, end);
    const type = u16(d, at);
    const rdLength = u16(d, at + 8);
    const rd = at + 10;
    if (end - rd < rdLength) return stopped(out, layer, 'truncated', `${section} ${i}: rdata needs ${rdLength} bytes, ${end - rd} captured`, at, end);
    const data = rdata(d, off, rd, rd + rdLength, end, type);
    if (nameProblem !== null) return stopped(out, layer, nameProblem, nameReason, at, end);
    const record: DnsRecord = { name, type, class: u16(d, at + 2), ttl: u32(d, at + 4), data };
    if (i === 0) layer[key] = list;
    list.push(record);
    at = rd + rdLength;
  }
  return at;
}

function stopped(out: Decoded, layer: DnsLayer, how: 'truncated' | 'malformed', reason: string, at: number, end: number): -1 {
  stopAt(out, layer, how, reason, at, end);
  return -1;
}

/** A record's data between rd and rdEnd; sets nameProblem when it does not parse. */
function rdata(d: Uint8Array, start: number, rd: number, rdEnd: number, end: number, type: number): DnsData {
  nameProblem = null;
  const length = rdEnd - rd;
  switch (type) {
    case 1: // A
      if (length === 4) return ipv4Text(d, rd);
      break;
    case 28: // AAAA
      if (length === 16) return ipv6Text(d, rd);
      break;
    case 2: // NS
    case 5: // CNAME
    case 12: // PTR
      return nameIn(d, start, rd, rdEnd, end);
    case 15: // MX
      if (length >= 3) {
        const preference = u16(d, rd);
        return { preference, exchange: nameIn(d, start, rd + 2, rdEnd, end) };
      }
      break;
    case 16: {
      // TXT
      const strings: string[] = [];
      for (let at = rd; at < rdEnd; ) {
        const n = d[at];
        if (at + 1 + n > rdEnd) return fails('TXT string runs past its record');
        strings.push(latin1Text(d, at + 1, at + 1 + n));
        at += 1 + n;
      }
      return strings;
    }
    case 6: {
      // SOA
      const mname = nameIn(d, start, rd, rdEnd, end);
      if (nameProblem !== null) return '';
      const rname = nameIn(d, start, nameEnd, rdEnd, end);
      if (nameProblem !== null) return '';
      const at = nameEnd;
      if (rdEnd - at !== 20) return fails('SOA record has the wrong length');
      return { mname, rname, serial: u32(d, at), refresh: u32(d, at + 4), retry: u32(d, at + 8), expire: u32(d, at + 12), minimum: u32(d, at + 16) };
    }
    case 33: // SRV
      if (length >= 7) return { priority: u16(d, rd), weight: u16(d, rd + 2), port: u16(d, rd + 4), target: nameIn(d, start, rd + 6, rdEnd, end) };
      break;
    default:
      return hexText(d, rd, rdEnd);
  }
  return fails(`type ${type} record has ${length} bytes of rdata`);
}

/** rdata that does not parse: no data, and the reason. */
function fails(reason: string): string {
  nameFails('malformed', reason);
  return '';
}

/** A name that must start and end within its record (pointers may go anywhere in the message). */
function nameIn(d: Uint8Array, start: number, at: number, rdEnd: number, end: number): string {
  const name = readName(d, start, at, end);
  return nameProblem === null && nameEnd > rdEnd ? fails('name runs past its record') : name;
}
