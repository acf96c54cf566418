/** wskit: RFC 6455 WebSockets for Node.js with an async API. */
export * from './errors.js';
export { Connection, type ConnectionInit } from './node/connection.js';
export { serve, attach, Server, type Handler, type HttpResponse, type RouteMatch, type ServerOptions } from './node/server.js';
export { connect, parseWebSocketUrl, type ConnectOptions, type WebSocketUrl } from './node/client.js';
export type { Message, SendData, RequestInfo, ConnectionOptions } from './node/types.js';
export type { MessageCodec, ServerExtension, ClientExtension } from './node/message-codec.js';
export { CloseCode, Opcode, closeCodeName } from './protocol/opcodes.js';
export { encodeFrame } from './protocol/frame.js';
export { State } from './protocol/protocol.js';
export { HttpHeaders } from './protocol/http11.js';
export { router, type Router, type Routes, type ParamType } from './router.js';
export {
  broadcast,
  DEFAULT_MAX_BUFFERED,
  type BroadcastOptions,
  type BroadcastResult,
  type BroadcastData,
  type SlowClientPolicy,
} from './pubsub/broadcast.js';
export { Hub, type HubOptions } from './pubsub/hub.js';
export { inProcessBackplane, type Backplane, type BackplaneMessage, type InProcessBackplaneOptions } from './pubsub/backplane.js';
export { redisBackplane, type RedisBackplane, type RedisBackplaneOptions } from './pubsub/redis-backplane.js';
export {
  PerMessageDeflateServer,
  PerMessageDeflateClient,
  DeflateCodec,
  ZlibLimiter,
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_ZLIB_CONCURRENCY,
  type CompressionOptions,
  type CompressionOption,
} from './node/deflate.js';
export type { DeflateConfig, DeflateAgreement } from './protocol/deflate-params.js';
export { Connector, ReconnectingClientBase, closeError, type ClientConnection, type ClientCallbacks, type ReconnectingClientSettings } from './client/reconnect.js';
export { ReconnectSchedule, RECONNECT_DEFAULTS, backoffBound, backoffDelay, isRetryable, type ReconnectOptions } from './client/backoff.js';
export { SendQueue, SendQueueError, messageSize, type OverflowPolicy, type SendQueueOptions } from './client/send-queue.js';
export { ReconnectingClient, type ReconnectingClientOptions, type QueueableData } from './node/reconnecting-client.js';
export { InvalidProxyStatus, proxyFor, bypassesProxy, openTunnel, type ProxySetting, type TunnelOptions } from './node/proxy.js';
