/** The conversation layer's public face: flows (this folder), IP defragmentation (../defrag) and TCP reassembly (../reassembly). */
export { FlowTracker } from './tracker';
export type { FlowOptions, ReassemblyOptions, FlowTrackerStats } from './tracker';
export { trackFlows } from './source';
export type { FlowSource, PacketMessage, TrackOptions } from './source';
export type { Flow, FlowKey, FlowSide, TcpInfo, FlowEndReason, Direction, StreamHandler, StreamFactory, StreamInfo, DatagramInfo, FlowTimeouts } from './types';
export { tcpStreams } from '../reassembly/collect';
export type { TcpStream, TcpStreamsOptions, DirectionBytes, StreamGap } from '../reassembly/collect';
export { Defragmenter } from '../defrag/defrag';
export type { DefragOptions, DefragStats, DefragResult, Reassembled } from '../defrag/defrag';
