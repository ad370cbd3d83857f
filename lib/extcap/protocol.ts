/**
 * Wireshark's extcap protocol (doc/man_pages/extcap.adoc): Wireshark runs
 * the extcap with --extcap-interfaces, then per interface --extcap-dlts and
 * --extcap-config, and captures with --capture --fifo F, writing a pcap
 * stream into the FIFO. These are the lines each query prints.
 */

/** An option shown in Wireshark's interface dialog, passed back as `call value`. */
export interface ExtcapArg {
  call: string;
  display: string;
  type: 'string' | 'integer' | 'unsigned' | 'boolflag';
  tooltip?: string;
  default?: string;
  required?: boolean;
  /** For integer and unsigned: min,max. */
  range?: string;
}

export interface ExtcapInterface {
  value: string;
  display: string;
  /** The DLT its packets have (LINKTYPE_ number and libpcap name). */
  dlt: { number: number; name: string; display: string };
  args: ExtcapArg[];
}

/** Braces and backslashes cannot appear inside a {key=value} field. */
const field = (key: string, value: string | number): string => `{${key}=${String(value).replace(/[{}\\]/g, '')}}`;

export function interfacesText(version: string, help: string, interfaces: ExtcapInterface[]): string {
  const lines = [`extcap ${field('version', version)}${field('help', help)}`];
  for (const i of interfaces) lines.push(`interface ${field('value', i.value)}${field('display', i.display)}`);
  return `${lines.join('\n')}\n`;
}

export function dltsText(i: ExtcapInterface): string {
  return `dlt ${field('number', i.dlt.number)}${field('name', i.dlt.name)}${field('display', i.dlt.display)}\n`;
}

export function configText(i: ExtcapInterface): string {
  return i.args
    .map((a, n) => {
      let line = `arg ${field('number', n)}${field('call', a.call)}${field('display', a.display)}${field('type', a.type)}`;
      if (a.tooltip !== undefined) line += field('tooltip', a.tooltip);
      if (a.range !== undefined) line += field('range', a.range);
      if (a.default !== undefined) line += field('default', a.default);
      if (a.required) line += field('required', 'true');
      return `${line}\n`;
    })
    .join('');
}
