/** The sessions layer's public face: records, the parser interface and registry, the built-in parsers and fingerprints. */
export { ParserRegistry } from './registry';
export type { SessionStats, RegistryOptions, FlowHandler } from './registry';
export { httpParser } from './http';
export type { HttpOptions } from './http';
export { tlsParser } from './tls';
export { quicParser } from './quic';
export { sealInitial, cryptoFrame } from './seal';
export { ja3, ja4, ja4s } from './fingerprints';
export { parseClientHello, parseServerHello } from './hello';
export type * from './types';
export { sessions } from './source';
export type { SessionOptions } from './source';
