/** `wirecap grant` and `wirecap doctor`: the capture helper's privileges, and what this machine offers. */
import { Command } from 'commander';
import { doctor } from '../helper/doctor';
import { grant } from '../helper/grant';
import { Io } from './output';

export function registerHelper(cli: Command, { out }: Io): void {
  cli
    .command('grant')
    .description('as root: let the capture helper (only it) capture, for members of a group')
    .option('--group <name>', 'the group whose members may capture (default: wirecap, created if missing)')
    .option('--revoke', 'take the capabilities back')
    .action((options: { group?: string; revoke?: boolean }) => {
      for (const line of grant(options)) out.write(`${line}\n`);
    });
  cli
    .command('doctor')
    .description('report libpcap, the capture helper, whether this user may capture, and the devices, with fixes')
    .option('--json', 'one JSON array')
    .action((options: { json?: boolean }) => {
      const checks = doctor();
      if (options.json) {
        out.write(`${JSON.stringify(checks, null, 2)}\n`);
      } else {
        for (const c of checks) {
          out.write(`${c.ok ? 'ok     ' : 'PROBLEM'} ${c.name}: ${c.detail}\n`);
          if (!c.ok && c.fix !== undefined) out.write(`        fix: ${c.fix}\n`);
        }
      }
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}
