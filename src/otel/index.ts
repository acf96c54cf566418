/**
 * wskit's metrics as OpenTelemetry instruments, on a `Meter` of `@opentelemetry/api` that you pass in:
 *
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { metricsToOpenTelemetry } from 'wskit/otel';
 * const server = await serve(handler, { metrics: true });
 * metricsToOpenTelemetry(server, metrics.getMeter('wskit'));
 * ```
 *
 * Counters and gauges are observable instruments read from the same figures as `GET /metrics`, once per
 * collection (one snapshot per collection feeds them all). OpenTelemetry has no observable histogram, so the
 * histograms (keepalive round trips, backplane publish times) are recorded on OpenTelemetry histograms as they
 * happen, with the same bucket bounds; observations made before this call are not in them.
 *
 * `@opentelemetry/api` is an optional peer dependency: this module uses only its types, so nothing of it is
 * loaded unless your program loads it.
 */
import type { Attributes, BatchObservableResult, Histogram as OtelHistogram, Meter, Observable } from '@opentelemetry/api';
import { METRICS, type MetricDefinition } from '../metrics/families.js';
import { LATENCY_BUCKETS } from '../metrics/histogram.js';
import type { Server } from '../node/server.js';

/** Gauges whose values do not add up across servers (reported as gauges; the others as up-down counters). */
const NOT_ADDITIVE = new Set<string>([METRICS.slowest.otelName, METRICS.backplaneUp.otelName]);

/**
 * Registers wskit's instruments for `server` (made with `metrics: true`) on `meter`. Returns a function that
 * unregisters them (the instruments stay defined in the SDK but report nothing more).
 */
export function metricsToOpenTelemetry(server: Server, meter: Meter): () => void {
  const recorder = server.metricsRecorder();
  const observables = new Map<string, Observable>();
  const histograms = new Map<string, OtelHistogram>();
  for (const definition of Object.values(METRICS) as MetricDefinition[]) {
    const options = { description: definition.help, unit: definition.unit };
    if (definition.type === 'histogram') {
      histograms.set(definition.otelName, meter.createHistogram(definition.otelName, { ...options, advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] } }));
    } else if (definition.type === 'counter') {
      observables.set(definition.otelName, meter.createObservableCounter(definition.otelName, options));
    } else if (NOT_ADDITIVE.has(definition.otelName)) {
      observables.set(definition.otelName, meter.createObservableGauge(definition.otelName, options));
    } else {
      observables.set(definition.otelName, meter.createObservableUpDownCounter(definition.otelName, options));
    }
  }
  const observe = (result: BatchObservableResult): void => {
    for (const family of Object.values(server.metrics())) {
      if (family.type === 'histogram') continue;
      const observable = observables.get(family.otelName);
      if (observable === undefined) continue;
      for (const sample of family.samples) result.observe(observable, sample.value, sample.labels as Attributes);
    }
  };
  const list = [...observables.values()];
  meter.addBatchObservableCallback(observe, list);
  const stopHistograms = recorder.listenHistograms((definition, labels, value) => {
    histograms.get(definition.otelName)?.record(value, labels as Attributes);
  });
  return () => {
    meter.removeBatchObservableCallback(observe, list);
    stopHistograms();
  };
}
