/**
 * The capture helper (src-native/helper/): a small executable that alone
 * holds cap_net_raw and cap_net_admin (`wirecap grant`), so that Node never
 * needs them. Here: where it is, whether this process may capture without
 * it, and which of the two a live capture uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { binding, CaptureHandle, NativeCaptureOptions } from '../core/binding';
import { WirecapError } from '../core/errors';

/** A live capture's choice: 'auto' (the default), or forced on (true) or off (false). */
export type HelperMode = boolean | 'auto';

const ROOT = path.join(__dirname, '..', '..');
const NAME = 'wirecap-helper';

/** musl as node-gyp-build decides it, which picks wirecap.musl.node then: the helper beside it is wirecap-helper.musl. */
function isMusl(): boolean {
  return process.env.LIBC === 'musl' || fs.existsSync('/etc/alpine-release');
}

/**
 * The helper's path: WIRECAP_HELPER if set, else this package's build, else
 * its prebuild for this machine and C library; null where there is none
 * (Windows, macOS).
 */
export function helperPath(): string | null {
  const fromEnv = process.env.WIRECAP_HELPER;
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  if (process.platform !== 'linux') return null;
  const candidates = [path.join(ROOT, 'build', 'Release', NAME)];
  candidates.push(path.join(ROOT, 'prebuilds', `linux-${process.arch}`, isMusl() ? `${NAME}.musl` : NAME));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** Capability bits of /proc/self/status's CapEff (Linux). */
const CAP_NET_RAW = 13n;

/** Whether this process may open a capture itself: CAP_NET_RAW in effect (Linux; root has it unless it was taken away). */
export function mayCaptureInProcess(): boolean {
  if (process.platform !== 'linux') return true; // other systems have no helper: let libpcap decide
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const eff = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
    return eff !== null && ((BigInt(`0x${eff[1]}`) >> CAP_NET_RAW) & 1n) === 1n;
  } catch {
    return true;
  }
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The default of the helper option: WIRECAP_HELPER_MODE=on|off|auto, else 'auto'. */
function defaultMode(): HelperMode {
  const mode = process.env.WIRECAP_HELPER_MODE;
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  if (mode === undefined || mode === '' || mode === 'auto') return 'auto';
  throw new WirecapError(`WIRECAP_HELPER_MODE must be on, off or auto, not ${mode}`, 'EINVAL');
}

/**
 * The native handle for a live capture, in-process or through the helper:
 * 'auto' takes the helper only when this process may not capture and the
 * helper is there for it to run (a granted helper is, for its group).
 */
export function openCaptureHandle(
  options: NativeCaptureOptions,
  given: HelperMode | undefined,
  onReadable: (event: 'readable' | 'dump') => void,
): CaptureHandle {
  const mode = given ?? defaultMode();
  if (options.source === 'file' || mode === false) return new binding.CaptureHandle(options, onReadable);
  const helper = helperPath();
  if (mode === true) {
    if (helper === null) {
      throw new WirecapError(`the capture helper exists only on Linux (this is ${process.platform})`, 'ENOTSUP');
    }
    if (!executable(helper)) {
      throw new WirecapError(
        `the capture helper ${helper} is not executable by this user: run \`sudo npx wirecap grant --group <a group of yours>\` (see \`npx wirecap doctor\`)`,
        'EPERM',
      );
    }
  } else if (helper === null || mayCaptureInProcess() || !executable(helper)) {
    return new binding.CaptureHandle(options, onReadable);
  }
  return new binding.CaptureHandle({ ...options, helperPath: helper }, onReadable);
}
