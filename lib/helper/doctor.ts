/**
 * `wirecap doctor`: what this machine offers for capturing, and for each
 * problem the exact fix. Linux: libpcap, the capture helper's capabilities,
 * owner and mode, whether this user may capture (in-process or through the
 * helper). macOS: /dev/bpf* permissions. Windows: Npcap and its
 * administrators-only option.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { binding } from '../core/binding';
import { DEFAULT_GROUP, groupName } from './grant';
import { helperPath, mayCaptureInProcess } from './helper';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** The command or step that fixes it (problems only). */
  fix?: string;
}

/** Runs every check for this system. */
export function doctor(): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  let library = false;
  try {
    checks.push({ name: 'libpcap', ok: true, detail: binding.libVersion() });
    library = true;
  } catch (error) {
    checks.push({ name: 'libpcap', ok: false, detail: (error as Error).message, fix: (error as Error).message });
  }
  if (process.platform === 'linux') checks.push(...linuxChecks());
  if (process.platform === 'darwin') checks.push(bpfCheck());
  if (process.platform === 'win32') checks.push(npcapCheck());
  if (library) {
    try {
      const names = binding.devices().map((d) => d.name);
      checks.push({
        name: 'devices',
        ok: names.length > 0,
        detail: names.length > 0 ? names.join(', ') : 'none visible to this user',
        ...(names.length > 0 ? {} : { fix: 'see the permission checks above' }),
      });
    } catch (error) {
      checks.push({ name: 'devices', ok: false, detail: (error as Error).message });
    }
  }
  return checks;
}

function capabilitiesOf(file: string): string | null {
  try {
    const out = execFileSync('getcap', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out.slice(file.length).replace(/^\s*=?\s*/, '');
  } catch {
    return null;
  }
}

function linuxChecks(): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const inProcess = mayCaptureInProcess();
  checks.push({
    name: 'this process',
    ok: true,
    detail: inProcess ? 'may capture itself (CAP_NET_RAW in effect)' : 'may not capture itself: captures go through the helper',
  });
  const helper = helperPath();
  if (helper === null || !fs.existsSync(helper)) {
    checks.push({ name: 'helper', ok: inProcess, detail: 'not found', fix: 'reinstall wirecap (its Linux prebuilds ship wirecap-helper) or npm run build' });
    return checks;
  }
  const st = fs.statSync(helper);
  const group = groupName(st.gid);
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  const caps = capabilitiesOf(helper);
  const granted = caps !== null && caps.includes('cap_net_raw') && caps.includes('cap_net_admin');
  const grantFix = `sudo npx wirecap grant --group ${group === 'root' ? DEFAULT_GROUP : group}`;
  if (caps === null) {
    checks.push({ name: 'helper capabilities', ok: false, detail: `${helper}: getcap is not installed`, fix: 'apt-get install libcap2-bin (Debian, Ubuntu)' });
  } else {
    checks.push({
      name: 'helper capabilities',
      ok: granted || inProcess,
      detail: `${helper}: ${caps === '' ? 'none' : caps}`,
      ...(granted ? {} : { fix: grantFix }),
    });
  }
  const othersMayRun = (st.mode & 0o001) !== 0;
  checks.push({
    name: 'helper owner',
    ok: !granted || (st.uid === 0 && !othersMayRun),
    detail: `owner ${st.uid === 0 ? 'root' : st.uid}:${group}, mode ${mode}`,
    ...(granted && othersMayRun ? { fix: `${grantFix} (others may run a privileged helper)` } : {}),
  });
  let runnable = false;
  try {
    fs.accessSync(helper, fs.constants.X_OK);
    runnable = true;
  } catch {
    runnable = false;
  }
  const member = process.getgroups?.().includes(st.gid) ?? false;
  const mayCapture = inProcess || (granted && runnable);
  checks.push({
    name: 'this user',
    ok: mayCapture,
    detail: mayCapture
      ? inProcess
        ? 'may capture (in-process)'
        : 'may capture through the helper'
      : granted
        ? `may not run the helper (not in group ${group})`
        : 'may not capture: the helper has no capabilities',
    ...(mayCapture
      ? {}
      : { fix: granted && !member ? `sudo usermod -aG ${group} ${process.env.USER ?? '<user>'} (then log in again)` : grantFix }),
  });
  return checks;
}

function bpfCheck(): DoctorCheck {
  try {
    fs.accessSync('/dev/bpf0', fs.constants.R_OK | fs.constants.W_OK);
    return { name: '/dev/bpf*', ok: true, detail: 'readable and writable by this user' };
  } catch {
    return {
      name: '/dev/bpf*',
      ok: process.geteuid?.() === 0,
      detail: 'not readable by this user',
      fix: "install Wireshark's ChmodBPF (it gives the access_bpf group /dev/bpf*), then: sudo dseditgroup -o edit -a $USER -t user access_bpf; or run as root",
    };
  }
}

function npcapCheck(): DoctorCheck {
  let adminOnly = false;
  try {
    const out = execFileSync('reg', ['query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\npcap\\Parameters', '/v', 'AdminOnly'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    adminOnly = /AdminOnly\s+REG_DWORD\s+0x1\b/.test(out);
  } catch {
    adminOnly = false;
  }
  return {
    name: 'Npcap',
    ok: !adminOnly,
    detail: adminOnly ? "installed with \"Restrict Npcap driver's access to Administrators only\"" : 'open to every user',
    ...(adminOnly
      ? { fix: "run as Administrator, or reinstall Npcap without \"Restrict Npcap driver's access to Administrators only\"" }
      : {}),
  };
}
