/** `wirecap list`: the devices libpcap can capture on. */
import { Command } from 'commander';
import { devices } from '../capture/devices';
import { Io } from './output';

export function registerList(cli: Command, { out }: Io): void {
  cli
    .command('list')
    .description('list the devices libpcap can capture on')
    .option('--json', 'one JSON array')
    .action((options: { json?: boolean }) => {
      const list = devices();
      if (options.json) {
        out.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      list.forEach((d, i) => {
        const flags = Object.entries(d.flags)
          .filter(([k, v]) => v === true && k !== 'connection')
          .map(([k]) => k);
        const addresses = d.addresses.map((a) => a.address).join(', ');
        out.write(`${i + 1}. ${d.name}${d.description ? ` (${d.description})` : ''} [${flags.join(', ')}]${addresses ? ` ${addresses}` : ''}\n`);
      });
    });
}
