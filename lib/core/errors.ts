/**
 * Every error wirecap throws on purpose is a WirecapError with a stable
 * `code`; native code throws the same class (it is handed over at load).
 *
 * Codes: ELIBPCAP (no usable libpcap / Npcap), ENODEV (unknown device),
 * EPERM (no capture permission), ENETDOWN (interface down or gone),
 * EFILTER (invalid BPF filter), EINVAL (invalid argument), ECLOSED (the
 * capture is closed), ENOTSUP (the library or device lacks a feature),
 * EPCAP (any other libpcap failure, with libpcap's text), EHELPER (the
 * capture helper could not start, or broke its channel).
 * Files: ENOENT, EACCES, EISDIR, EROFS, ENOSPC, EFBIG, EMFILE, EIO (as the
 * OS said), EPIPE (the reader of standard output went away), EBADFORMAT (not a capture file, or a corrupt record, with
 * libpcap's text), ETRUNCATED (a file that ends inside a record).
 * Packet streaming: ECONNREFUSED (no collector answered for too long),
 * ECONNRESET (a peer's stream broke off), EPROTO (a malformed message, or
 * caplen not the data's length), EMSGSIZE (a packet over the collector's
 * maxCaplen; replay: a frame over the device's MTU, with oversize 'error').
 * ELOAD: the native addon did not load (the message names the prebuild,
 * what it needs of the OS, and the command that builds it from source).
 */
export type WirecapErrorCode =
  | 'ELIBPCAP'
  | 'ENODEV'
  | 'EPERM'
  | 'ENETDOWN'
  | 'EFILTER'
  | 'EINVAL'
  | 'ECLOSED'
  | 'ENOTSUP'
  | 'EPCAP'
  | 'EHELPER'
  | 'ENOENT'
  | 'EACCES'
  | 'EISDIR'
  | 'EROFS'
  | 'ENOSPC'
  | 'EFBIG'
  | 'EMFILE'
  | 'EIO'
  | 'EPIPE'
  | 'EBADFORMAT'
  | 'ETRUNCATED'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EPROTO'
  | 'EMSGSIZE'
  | 'ELOAD';

export class WirecapError extends Error {
  readonly code: WirecapErrorCode;

  constructor(message: string, code: WirecapErrorCode) {
    super(message);
    this.name = 'WirecapError';
    this.code = code;
  }
}

/** Node's convention for aborted operations: name AbortError, code ABORT_ERR, the signal's reason as cause. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';

  constructor(reason?: unknown) {
    super('The operation was aborted', reason === undefined ? undefined : { cause: reason });
    this.name = 'AbortError';
  }
}

export function invalid(message: string): WirecapError {
  return new WirecapError(message, 'EINVAL');
}
