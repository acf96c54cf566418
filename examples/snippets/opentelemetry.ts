import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { connect, serve } from 'wskit';
import { metricsToOpenTelemetry } from 'wskit/otel';

// Your SDK setup (here an in-memory exporter, to show what it collects; usually OTLP or Prometheus).
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { port: 8765, metrics: true });
const stop = metricsToOpenTelemetry(server, metrics.getMeter('wskit'));

const ws = await connect('ws://localhost:8765');
await ws.send('hello');
await ws.recv();
await reader.forceFlush();
const collected = exporter.getMetrics().at(-1)!.scopeMetrics[0]!.metrics;
const received = collected.find((m) => m.descriptor.name === 'wskit.messages.received')!;
console.log(received.dataPoints.map((p) => [p.attributes.opcode, p.value])); // [ [ 'text', 1 ], [ 'binary', 0 ] ]
stop();
await ws.close();
await server.close();
