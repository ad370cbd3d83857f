export { openLive, Capture } from './capture';
export type { LiveOptions, CaptureStats } from './capture';
export { PacketBatch } from './batch';
export type { Packet } from './batch';
export { devices, libVersion, compileFilter, linktypeValue } from './devices';
export type { Device, CompileOptions } from './devices';
export { WirecapError, AbortError } from './errors';
export type { WirecapErrorCode } from './errors';
