/**
 * The OpenTelemetry adapter collected by the real SDK (`@opentelemetry/sdk-metrics`, in-memory exporter): after a
 * load on two routes, every counter and gauge data point equals the server's own figure (the same as
 * `GET /metrics`) and what the load did, and the histograms hold the same observations in the same buckets.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type Histogram as OtelHistogramPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { connect, router, type HistogramSample, type Server } from '../../src/index.js';
import { metricsToOpenTelemetry } from '../../src/otel/index.js';
import { echo, startServer } from '../helpers.js';
import { value, waitUntil } from './metrics-helpers.js';

let server: Server | null = null;
after(async () => {
  await server?.close();
});

const key = (attributes: Record<string, unknown>): string => JSON.stringify(Object.entries(attributes).sort());

test('an OpenTelemetry SDK collects the same figures as the server reports', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const routes = router({ '/chat/{room}': echo, '/bin': echo });
  server = await startServer(routes.handler, { route: routes, metrics: true, pingInterval: 25 });
  const stop = metricsToOpenTelemetry(server, provider.getMeter('wskit-test'));

  // Load: 4 chat clients x 25 texts, 2 binary clients x 10 messages, then closes with chosen codes.
  const chat = await Promise.all([1, 2, 3, 4].map((i) => connect(`${server!.url}/chat/r${i}`)));
  const bin = await Promise.all([1, 2].map(() => connect(`${server!.url}/bin`)));
  await Promise.all([
    ...chat.map(async (ws) => {
      for (let i = 0; i < 25; i++) {
        await ws.send(`message ${i}`);
        await ws.recv();
      }
    }),
    ...bin.map(async (ws) => {
      for (let i = 0; i < 10; i++) {
        await ws.send(Buffer.alloc(100, i));
        await ws.recv();
      }
    }),
  ]);
  await waitUntil(() => server!.metrics(), (m) => value(m, 'wskit_keepalive_rtt_seconds') >= 6, 5000, 'pongs from the keepalive');
  await Promise.all([chat[0]!.close(1000), chat[1]!.close(4000), chat[2]!.close(1001), bin[0]!.close(1000)]);
  chat[3]!.terminate();
  bin[1]!.terminate();
  const mine = await waitUntil(() => server!.metrics(), (m) => value(m, 'wskit_connections_closed_total') === 6, 5000, 'six closes');

  await reader.forceFlush();
  const exported = exporter.getMetrics();
  const metrics = new Map<string, MetricData>();
  for (const data of exported.at(-1)!.scopeMetrics.flatMap((scope) => scope.metrics)) metrics.set(data.descriptor.name, data);

  // What the load did, as OpenTelemetry saw it.
  const otel = (name: string, attributes: Record<string, string>): number => {
    const data = metrics.get(name)!;
    let total = 0;
    for (const point of data.dataPoints) {
      if (Object.entries(attributes).every(([k, v]) => point.attributes[k] === v)) total += point.value as number;
    }
    return total;
  };
  assert.equal(otel('wskit.messages.received', { route: '/chat/{room}', opcode: 'text' }), 100);
  assert.equal(otel('wskit.messages.sent', { route: '/bin', opcode: 'binary' }), 20);
  assert.equal(otel('wskit.sent', { route: '/bin', opcode: 'binary' }), 2000);
  assert.equal(otel('wskit.connections.opened', {}), 6);
  assert.equal(otel('wskit.connections', {}), 0);
  assert.deepEqual(
    ['1000', '1001', '4xxx', '1006'].map((code) => otel('wskit.connections.closed', { code })),
    [2, 1, 1, 2],
  );
  assert.equal(metrics.get('wskit.sent')!.descriptor.unit, 'By');
  assert.equal(metrics.get('wskit.messages.received')!.dataPointType, DataPointType.SUM);

  // Every counter and gauge sample of the server is a data point of the same value, and nothing else is.
  const snapshot = server.metrics();
  assert.deepEqual(snapshot, mine, 'the server was quiet between the two readings');
  for (const family of Object.values(snapshot)) {
    const data = metrics.get(family.otelName);
    assert.ok(data !== undefined, `no instrument ${family.otelName}`);
    if (family.type === 'histogram') continue;
    const points = new Map(data.dataPoints.map((point) => [key(point.attributes), point.value as number]));
    const samples = new Map(family.samples.map((sample) => [key(sample.labels), sample.value]));
    assert.deepEqual(points, samples, family.otelName);
    assert.equal(data.descriptor.description, family.help);
  }

  // Histograms: the same observations, the same buckets.
  const rtt = metrics.get('wskit.keepalive.rtt')!;
  assert.equal(rtt.dataPointType, DataPointType.HISTOGRAM);
  for (const sample of snapshot.wskit_keepalive_rtt_seconds!.samples as HistogramSample[]) {
    const point = rtt.dataPoints.find((p) => key(p.attributes) === key(sample.labels));
    assert.ok(point !== undefined, `no histogram point for ${key(sample.labels)}`);
    const histogram = point.value as OtelHistogramPoint;
    assert.deepEqual(histogram.buckets.boundaries, [...sample.histogram.bounds]);
    assert.deepEqual(histogram.buckets.counts, [...sample.histogram.counts]);
    assert.equal(histogram.count, sample.histogram.count);
    assert.ok(Math.abs(histogram.sum! - sample.histogram.sum) < 1e-9);
  }
  assert.ok(value(snapshot, 'wskit_keepalive_rtt_seconds') >= 6);

  // Unregistered: later traffic does not reach OpenTelemetry any more.
  stop();
  const late = await connect(`${server.url}/bin`);
  await late.send(Buffer.alloc(1));
  await late.recv();
  await late.close();
  await reader.forceFlush();
  const later = new Map(exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((scope) => scope.metrics).map((data) => [data.descriptor.name, data]));
  const sentLater = later.get('wskit.messages.sent')?.dataPoints.find((p) => p.attributes.route === '/bin' && p.attributes.opcode === 'binary');
  assert.ok(sentLater === undefined || sentLater.value === 20, `after stop: ${JSON.stringify(sentLater)}`);
  assert.equal(value(server.metrics(), 'wskit_messages_sent_total', { route: '/bin', opcode: 'binary' }), 21);
  await provider.shutdown();
});
