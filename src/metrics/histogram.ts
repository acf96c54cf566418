/**
 * A cumulative histogram with fixed bucket bounds, as Prometheus and OpenTelemetry's explicit-bucket
 * histograms define it: an observation lands in the first bucket whose upper bound is at or above it.
 */

/** Bounds (seconds) for round-trip times on a network: 1 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** What a histogram holds at one moment: non-cumulative counts per bucket, the last being +Inf. */
export interface HistogramData {
  /** Upper bounds of the buckets, ascending (the +Inf bucket is implied). */
  readonly bounds: readonly number[];
  /** Observations per bucket, `bounds.length + 1` entries: `counts[i]` is for `(bounds[i-1], bounds[i]]`, the last for `> bounds[last]`. */
  readonly counts: readonly number[];
  /** Sum of the observed values. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
}

/** Told of each observation (the OpenTelemetry adapter records it on its own histogram). */
export type ObservationListener = (value: number) => void;

/** A histogram: `observe(value)` costs a short scan of the bounds and three additions. */
export class Histogram implements HistogramData {
  /** Upper bounds of the buckets. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), the last for values above every bound. */
  readonly counts: number[];
  /** Sum of the observed values. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  private listeners: ObservationListener[] | null = null;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError('histogram bounds must be strictly increasing');
    }
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    const listeners = this.listeners;
    if (listeners !== null) for (const listener of listeners) listener(value);
  }

  /** Calls `listener` with every later observation; returns a function that stops it. */
  listen(listener: ObservationListener): () => void {
    (this.listeners ??= []).push(listener);
    return () => {
      const listeners = this.listeners;
      if (listeners === null) return;
      const at = listeners.indexOf(listener);
      if (at !== -1) listeners.splice(at, 1);
      if (listeners.length === 0) this.listeners = null;
    };
  }

  /** A copy of the current figures. */
  snapshot(): HistogramData {
    return { bounds: this.bounds, counts: [...this.counts], sum: this.sum, count: this.count };
  }
}
