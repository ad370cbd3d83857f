/**
 * Where Wireshark looks for extcaps, and the launcher wirecap puts there:
 * a shell script (a batch file on Windows) that runs this package's CLI as
 * `wirecap extcap` with the node that installed it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WirecapError } from '../core/errors';

const NAME = 'wirecap-extcap';

/**
 * The global extcap folder tshark reports (`tshark -G folders`: "Extcap
 * path" up to 4.0, "Global extcap path" after), else Debian's.
 */
function globalFolder(): string {
  try {
    const text = execFileSync('tshark', ['-G', 'folders'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20000 });
    const line = /^(?:Global e|E)xtcap path:\s*(.+)$/m.exec(text);
    if (line) return line[1].trim();
  } catch {
    // No tshark: the usual place.
  }
  return '/usr/lib/x86_64-linux-gnu/wireshark/extcap';
}

/** The personal folders: 4.2+ reads ~/.local/lib/wireshark/extcap, older versions ~/.config/wireshark/extcap. */
function personalFolders(): string[] {
  if (process.platform === 'win32') {
    return [path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'Wireshark', 'extcap')];
  }
  const home = os.homedir();
  return [path.join(home, '.local', 'lib', 'wireshark', 'extcap'), path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'wireshark', 'extcap')];
}

/**
 * Where to install: as root on Linux the global folder, for every user (a
 * personal copy beside it would be listed twice); otherwise the personal
 * folders of each Wireshark generation (Windows: %APPDATA%\Wireshark\extcap).
 */
export function extcapFolders(): string[] {
  return process.platform !== 'win32' && process.getuid?.() === 0 ? [globalFolder()] : personalFolders();
}

/** Every folder a launcher may have been installed into. */
function everyFolder(): string[] {
  return process.platform === 'win32' ? personalFolders() : [...personalFolders(), globalFolder()];
}

function launcherText(cli: string): string {
  if (process.platform === 'win32') return `@echo off\r\n"${process.execPath}" "${cli}" extcap %*\r\n`;
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# Wireshark extcap launcher written by \`wirecap extcap --install\`.\nexec ${quote(process.execPath)} ${quote(cli)} extcap "$@"\n`;
}

/** Writes the launcher into each folder (created if missing); returns the files written. */
export function installExtcap(folders: string[] = extcapFolders()): string[] {
  const cli = path.join(__dirname, '..', 'cli', 'main.js');
  const file = process.platform === 'win32' ? `${NAME}.bat` : NAME;
  return folders.map((folder) => {
    const target = path.join(folder, file);
    try {
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(target, launcherText(cli), { mode: 0o755 });
      fs.chmodSync(target, 0o755);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new WirecapError(`cannot install the extcap launcher into ${folder}: ${e.message}`, e.code === 'EACCES' || e.code === 'EPERM' ? 'EACCES' : 'EIO');
    }
    return target;
  });
}

/** Removes the launchers that installExtcap() wrote; returns the files removed. */
export function uninstallExtcap(folders: string[] = everyFolder()): string[] {
  const file = process.platform === 'win32' ? `${NAME}.bat` : NAME;
  const removed: string[] = [];
  for (const folder of folders) {
    const target = path.join(folder, file);
    if (fs.existsSync(target)) {
      fs.rmSync(target);
      removed.push(target);
    }
  }
  return removed;
}
