/** wskit: RFC 6455 WebSockets for Node.js with an async API. */
export * from './errors.js';
export { Connection, type ConnectionInit } from './node/connection.js';
export type { Transport, TransportEvent } from './node/transport.js';
export { PreparedMessage, type PreparedData } from './node/prepared-message.js';
export { serve, attach, Server, type Handler, type ServerHandler, type HttpResponse, type RouteMatch, type ServerOptions } from './node/server.js';
export { SendStatus, type WebSocketHandlers } from './node/callbacks.js';
export { DEFAULT_HTTP2_LIMITS, type Http2Limits, type Http2Option } from './node/http2-server.js';
export type { Http2Setting } from './node/http2-client.js';
export type { ServerLogger, ConnectionLogEvent } from './node/observability.js';
export type { MetricsOption, MetricsOptions, MetricsRequestHandler } from './metrics/http.js';
export { METRICS, type MetricsSnapshot, type MetricFamily, type ScalarFamily, type HistogramFamily, type MetricSample, type HistogramSample, type MetricDefinition, type MetricType, type MetricUnit } from './metrics/families.js';
export { LATENCY_BUCKETS, type HistogramData } from './metrics/histogram.js';
export { renderPrometheus, PROMETHEUS_CONTENT_TYPE } from './metrics/prometheus.js';
export { closeCodeLabel } from './metrics/close-codes.js';
export { recordResume } from './metrics/route-meter.js';
export type { RefusalReason } from './metrics/server-metrics.js';
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
} from './node/broadcast.js';
export { Hub, type HubOptions } from './node/hub.js';
export { inProcessBackplane, type Backplane, type BackplaneMessage, type InProcessBackplaneOptions, type PublishTimes } from './pubsub/backplane.js';
export { redisBackplane, type RedisBackplane, type RedisBackplaneOptions } from './pubsub/redis-backplane.js';
export type { RedisConnectionOptions } from './pubsub/redis-connection.js';
export {
  HISTORY_DEFAULTS,
  MAX_TOPIC_BYTES,
  type TopicHistory,
  type HistoryLimits,
  type HistoryRead,
  type Appended,
  type Publication,
  type StreamPosition,
} from './pubsub/history.js';
export { memoryHistory, MEMORY_HISTORY_DEFAULTS, type MemoryHistoryOptions } from './pubsub/memory-history.js';
export { redisHistory, type RedisHistory, type RedisHistoryOptions } from './pubsub/redis-history.js';
export { topicServer, TopicServer, TOPIC_SERVER_DEFAULTS, type TopicServerOptions, type TopicPolicy, type TopicPayload } from './pubsub/topic-server.js';
export * from './client/topics-api.js';
export { encodeTopicFrame, decodeTopicFrame, type TopicFrame, type TopicErrorCode, type RequestId } from './client/topics-wire.js';
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
export {
  WebSocket,
  CloseEvent,
  ErrorEvent,
  type BinaryType,
  type CloseEventInit,
  type WebSocketData,
  type WebSocketEventHandler,
  type WebSocketOptions,
} from './node/websocket.js';
