/** What needs no capture handle: the device list, the library version, filter compilation. */
import { binding, NativeDevice } from '../core/binding';
import { invalid } from '../core/errors';
import { checkFilter, checkInteger, checkKeys, checkObject, checkString } from '../core/validate';

export type Device = NativeDevice;

/** The devices libpcap can capture on, with their addresses and flags. */
export function devices(): Device[] {
  return binding.devices();
}

/** The loaded library's version string (pcap_lib_version). */
export function libVersion(): string {
  return binding.libVersion();
}

/** A link-layer type as its DLT number: a number passes through, a name ('EN10MB', 'RAW') is looked up. */
export function linktypeValue(linktype: number | string): number {
  if (typeof linktype === 'number') return checkInteger(linktype, 'linktype', 0, 65535);
  const value = binding.linktypeValue(checkString(linktype, 'linktype'));
  if (value < 0) throw invalid(`unknown linktype '${linktype}'`);
  return value;
}

export interface CompileOptions {
  /** DLT number or name (default 'EN10MB', Ethernet). */
  linktype?: number | string;
  /** default 262144 */
  snaplen?: number;
}

/**
 * Compiles a filter without a device and returns the program as tcpdump -d
 * prints it, one instruction a line. Throws EFILTER for an invalid filter.
 */
export function compileFilter(expr: string, options?: CompileOptions): string[] {
  const o = checkObject(options, 'options');
  checkKeys(o, ['linktype', 'snaplen'], 'compileFilter');
  const linktype = o.linktype === undefined ? 1 : linktypeValue(o.linktype as number | string);
  const snaplen = o.snaplen === undefined ? 262144 : checkInteger(o.snaplen, 'snaplen', 1, 262144);
  return binding.compileFilter(checkFilter(expr), linktype, snaplen);
}
