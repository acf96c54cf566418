/**
 * The metrics wskit exports, defined once: each has an OpenTelemetry-style name (`wskit.messages.received`),
 * a type, a unit and a description; the Prometheus name is derived from them by the conventions
 * (base units as a suffix, `_total` on counters): `wskit_messages_received_total`, `wskit_received_bytes_total`.
 */
import type { HistogramData } from './histogram.js';

/** Kinds of metric. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Units, as OpenTelemetry writes them (UCUM): bytes, seconds, or a count of things in braces. */
export type MetricUnit = 'By' | 's' | `{${string}}`;

/** The definition of one metric. */
export interface MetricDefinition {
  /** OpenTelemetry instrument name, e.g. `wskit.messages.received`. */
  readonly otelName: string;
  /** Prometheus metric name, e.g. `wskit_messages_received_total`. */
  readonly name: string;
  /** Kind of metric. */
  readonly type: MetricType;
  /** Unit. */
  readonly unit: MetricUnit;
  /** One line saying what it counts. */
  readonly help: string;
}

/** One value of a counter or gauge, with its labels. */
export interface MetricSample {
  /** Label names and values. */
  readonly labels: Readonly<Record<string, string>>;
  /** The value. */
  readonly value: number;
}

/** One histogram, with its labels. */
export interface HistogramSample {
  /** Label names and values. */
  readonly labels: Readonly<Record<string, string>>;
  /** Its buckets, sum and count. */
  readonly histogram: HistogramData;
}

/** A counter or gauge and its values. */
export interface ScalarFamily extends MetricDefinition {
  /** Counter or gauge. */
  readonly type: 'counter' | 'gauge';
  /** One value per label set. */
  readonly samples: MetricSample[];
}

/** A histogram metric and its values. */
export interface HistogramFamily extends MetricDefinition {
  /** Histogram. */
  readonly type: 'histogram';
  /** One histogram per label set. */
  readonly samples: HistogramSample[];
}

/** A metric and its values at one moment. */
export type MetricFamily = ScalarFamily | HistogramFamily;

/** All of a server's metrics at one moment, by Prometheus name (what `server.metrics()` returns). */
export type MetricsSnapshot = Record<string, MetricFamily>;

function define(otelName: string, type: MetricType, unit: MetricUnit, help: string): MetricDefinition {
  const suffix = unit === 'By' ? '_bytes' : unit === 's' ? '_seconds' : '';
  const name = otelName.replace(/\./g, '_') + suffix + (type === 'counter' ? '_total' : '');
  return Object.freeze({ otelName, name, type, unit, help });
}

/** Every metric, in the order they are exported. */
export const METRICS = {
  connections: define('wskit.connections', 'gauge', '{connection}', 'WebSocket connections open now.'),
  opened: define('wskit.connections.opened', 'counter', '{connection}', 'WebSocket connections opened (handshakes accepted).'),
  closed: define('wskit.connections.closed', 'counter', '{connection}', 'WebSocket connections closed, by close code (1006: no close frame; unregistered codes bucketed as 3xxx, 4xxx, other).'),
  handshakes: define('wskit.handshakes', 'counter', '{handshake}', 'Opening handshakes by result (accepted, refused) and reason for refusals.'),
  pending: define('wskit.handshakes.pending', 'gauge', '{handshake}', 'Opening handshakes in progress.'),
  messagesReceived: define('wskit.messages.received', 'counter', '{message}', 'Messages received, by opcode (text, binary).'),
  messagesSent: define('wskit.messages.sent', 'counter', '{message}', 'Messages sent, by opcode (text, binary); each broadcast delivery counts.'),
  bytesReceived: define('wskit.received', 'counter', 'By', 'Payload bytes of the messages received, by opcode (after decompression).'),
  bytesSent: define('wskit.sent', 'counter', 'By', 'Payload bytes of the messages sent, by opcode (before compression).'),
  slowClients: define('wskit.slow_clients', 'counter', '{connection}', 'Broadcast/publish deliveries to clients over the buffer bound: skipped, or the client closed.'),
  slowest: define('wskit.slowest_client.buffered', 'gauge', 'By', 'Bytes buffered for the clients with the largest send backlog, by rank (1 = largest).'),
  rtt: define('wskit.keepalive.rtt', 'histogram', 's', 'Round-trip time of answered pings (keepalive and ws.ping()).'),
  deflateIn: define('wskit.compression.input', 'counter', 'By', 'Bytes given to permessage-deflate, by direction (sent: to compress; received: compressed bytes to inflate).'),
  deflateOut: define('wskit.compression.output', 'counter', 'By', 'Bytes out of permessage-deflate, by direction (sent: compressed; received: inflated).'),
  zlibQueue: define('wskit.compression.queue', 'gauge', '{operation}', 'zlib operations waiting for a slot of the server\'s limiter (compression backlog).'),
  zlibActive: define('wskit.compression.active', 'gauge', '{operation}', 'zlib operations running now.'),
  topics: define('wskit.topics', 'gauge', '{topic}', 'Pub/sub topics with at least one subscriber on this server.'),
  backplaneUp: define('wskit.backplane.up', 'gauge', '{state}', '1 when the backplane is connected, 0 when not.'),
  backplanePublished: define('wskit.backplane.published', 'counter', '{message}', 'Publishes handed to the backplane for the other nodes.'),
  backplaneReceived: define('wskit.backplane.received', 'counter', '{message}', 'Publishes received from other nodes through the backplane.'),
  backplaneDropped: define('wskit.backplane.dropped', 'counter', '{message}', 'Publishes the backplane could not send (transport down).'),
  backplaneLag: define('wskit.backplane.publish.duration', 'histogram', 's', 'Time from a publish to its acceptance by the backplane transport (Redis: PUBLISH round trip).'),
  resumes: define('wskit.resumes', 'counter', '{resume}', 'Topic resumes by result: recovered (every missed message replayed) or missed.'),
} as const;
