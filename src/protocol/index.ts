/** The Sans-I/O core: frames, handshake and protocol state, with no sockets and no timers. */
export * from './opcodes.js';
export * from './frame.js';
export * from './mask.js';
export * from './utf8.js';
export * from './close.js';
export * from './http11.js';
export * from './extension-header.js';
export * from './handshake.js';
export * from './protocol.js';
export { ByteAccumulator } from './byte-accumulator.js';
export * from './deflate-params.js';
export * from './url.js';
