/**
 * Latency statistics for `wskit bench`: an HDR-like log-linear histogram
 * (fixed memory, O(1) record, about 1.6 % relative precision) and rate helpers.
 */

const SUB_BUCKET_BITS = 7; // values below 128 exact, then 64 linear buckets per power of two
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const MAGNITUDES = 40; // values up to 2^47 units
const HALF = SUB_BUCKETS / 2;

/**
 * A histogram of non-negative values (bench records microseconds). Values
 * below 128 are exact; above, each power-of-two range is split into 64
 * buckets, so any percentile is within 1/64 of the true value.
 */
export class Histogram {
  private readonly counts = new Float64Array(SUB_BUCKETS + MAGNITUDES * HALF);
  /** Values recorded. */
  count = 0;
  /** Smallest value recorded (Infinity when empty). */
  min = Infinity;
  /** Largest value recorded (exact). */
  max = 0;
  private sum = 0;

  /** Records one value (negative values count as 0). */
  record(value: number): void {
    const v = value > 0 ? value : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The arithmetic mean (0 when empty). */
  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The value at percentile `p` (0–100): the upper bound of its bucket, capped at the exact max. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperBoundOf(i), this.max);
    }
    return this.max;
  }

  /** Adds every value of `other` into this histogram. */
  merge(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** Forgets every value. */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }
}

function bucketOf(value: number): number {
  const v = Math.floor(value);
  if (v < SUB_BUCKETS) return v;
  // Magnitude m ≥ 1 covers [2^(m+6), 2^(m+7)) in 64 buckets of width 2^m.
  const magnitude = Math.min(MAGNITUDES, Math.floor(Math.log2(v)) - SUB_BUCKET_BITS + 1);
  const sub = Math.min(HALF - 1, Math.floor(v / 2 ** magnitude) - HALF);
  return SUB_BUCKETS + (magnitude - 1) * HALF + sub;
}

function upperBoundOf(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const magnitude = Math.floor((index - SUB_BUCKETS) / HALF) + 1;
  const sub = (index - SUB_BUCKETS) % HALF;
  const width = 2 ** magnitude;
  return (HALF + sub) * width + width - 1;
}

/** The percentiles bench reports. */
export const PERCENTILES = [50, 90, 99, 99.9] as const;

/** A latency summary in milliseconds, from a histogram of microseconds. */
export interface LatencySummary {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  'p99.9': number;
  /** Largest. */
  max: number;
  /** Mean. */
  mean: number;
  /** Smallest. */
  min: number;
}

/** Summarises a histogram of microseconds into milliseconds. */
export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    'p99.9': ms(histogram.percentile(99.9)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
    min: histogram.count === 0 ? 0 : ms(histogram.min),
  };
}

/** A per-second rate over `elapsedMs`, 0 when no time passed. */
export function rate(count: number, elapsedMs: number): number {
  return elapsedMs <= 0 ? 0 : (count * 1000) / elapsedMs;
}

/** Milliseconds with a sensible number of decimals: `0.123`, `12.3`, `1234`. */
export function formatMs(ms: number): string {
  if (ms < 1) return ms.toFixed(3);
  if (ms < 100) return ms.toFixed(2);
  return ms.toFixed(0);
}
