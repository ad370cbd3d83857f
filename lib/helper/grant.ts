/**
 * `wirecap grant`: gives the capture helper, and only it, the capabilities
 * to capture, the way Wireshark's installer treats dumpcap. Run once as
 * root. The helper becomes root:<group>, mode 0750 (others may not run
 * it), with cap_net_raw,cap_net_admin=ep; `--revoke` takes that back.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { WirecapError } from '../core/errors';
import { helperPath } from './helper';

export const DEFAULT_GROUP = 'wirecap';
const CAPS = 'cap_net_raw,cap_net_admin=ep';

export interface GrantOptions {
  /** The group whose members may capture (default 'wirecap', created if missing). */
  group?: string;
  /** Take the capabilities back instead. */
  revoke?: boolean;
}

/** A group's id, or null when there is no such group. */
export function groupId(name: string): number | null {
  try {
    const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
    return Number(line.split(':')[2]);
  } catch {
    return null;
  }
}

/** A group's name, or its number as text. */
export function groupName(gid: number): string {
  try {
    return execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0];
  } catch {
    return String(gid);
  }
}

function run(tool: string, args: string[], fix: string): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new WirecapError(`${tool} is not installed: ${fix}`, 'ENOTSUP');
    throw new WirecapError(`${tool} ${args.join(' ')} failed: ${(e.stderr ?? String(error)).trim()}`, 'EPCAP');
  }
}

const SETCAP_FIX = 'install it with `apt-get install libcap2-bin` (Debian, Ubuntu), `dnf install libcap` (Fedora) or `apk add libcap` (Alpine)';

/** Grants (or revokes) the helper's capabilities; returns what it did, one line each. */
export function grant(options: GrantOptions = {}): string[] {
  if (process.platform !== 'linux') {
    throw new WirecapError(
      'wirecap grant is for Linux; run `npx wirecap doctor` for what this system needs',
      'ENOTSUP',
    );
  }
  const helper = helperPath();
  if (helper === null || !fs.existsSync(helper)) {
    throw new WirecapError(`no capture helper found${helper ? ` at ${helper}` : ''}: reinstall wirecap, or build it (npm run build)`, 'ENOENT');
  }
  if (process.geteuid?.() !== 0) {
    throw new WirecapError('wirecap grant changes a file\'s owner and capabilities: run it as root (sudo npx wirecap grant)', 'EPERM');
  }
  if (options.revoke) {
    const had = run('getcap', [helper], SETCAP_FIX).trim() !== '';
    if (had) run('setcap', ['-r', helper], SETCAP_FIX);
    fs.chownSync(helper, 0, 0);
    fs.chmodSync(helper, 0o755);
    return [`${helper}: ${had ? 'capabilities removed' : 'had no capabilities'}; owner root:root, mode 0755`];
  }
  const group = options.group ?? DEFAULT_GROUP;
  const done: string[] = [];
  let gid = groupId(group);
  if (gid === null) {
    if (options.group !== undefined) throw new WirecapError(`no group named ${group} (create it with groupadd ${group})`, 'EINVAL');
    run('groupadd', ['--system', group], 'install the passwd package (groupadd)');
    gid = groupId(group);
    if (gid === null) throw new WirecapError(`groupadd made no group ${group}`, 'EPCAP');
    done.push(`created group ${group}`);
  }
  // chown clears file capabilities, so it comes first.
  fs.chownSync(helper, 0, gid);
  fs.chmodSync(helper, 0o750);
  run('setcap', [CAPS, helper], SETCAP_FIX);
  done.push(`${helper}: owner root:${group}, mode 0750, ${CAPS}`);
  done.push(`members of ${group} may now capture: sudo usermod -aG ${group} <user> (then log in again)`);
  return done;
}
