/** The metrics' building blocks: close-code labels, histograms, the Prometheus text format and `wskit top`'s parser of it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { closeCodeLabel } from '../../src/metrics/close-codes.js';
import { METRICS, type MetricsSnapshot } from '../../src/metrics/families.js';
import { Histogram } from '../../src/metrics/histogram.js';
import { formatValue, renderPrometheus } from '../../src/metrics/prometheus.js';
import { MAX_SAMPLES, parseExposition } from '../../src/cli/exposition.js';
import { histogramQuantile } from '../../src/cli/top.js';

describe('close code labels', () => {
  test('registered codes keep their number; 3000s, 4000s and the rest are bucketed', () => {
    assert.equal(closeCodeLabel(1000), '1000');
    assert.equal(closeCodeLabel(1006), '1006');
    assert.equal(closeCodeLabel(1015), '1015');
    assert.equal(closeCodeLabel(1016), 'other');
    assert.equal(closeCodeLabel(2999), 'other');
    assert.equal(closeCodeLabel(3000), '3xxx');
    assert.equal(closeCodeLabel(3999), '3xxx');
    assert.equal(closeCodeLabel(4000), '4xxx');
    assert.equal(closeCodeLabel(4999), '4xxx');
    assert.equal(closeCodeLabel(5000), 'other');
    assert.equal(closeCodeLabel(999), 'other');
    assert.equal(closeCodeLabel(1000.5), 'other');
  });

  test('any code maps to one of at most 19 labels (bounded cardinality)', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.integer({ min: -1, max: 70_000 }), (code) => void seen.add(closeCodeLabel(code))));
    for (let code = 0; code < 70_000; code += 7) seen.add(closeCodeLabel(code));
    assert.ok(seen.size <= 19, [...seen].join(' '));
  });
});

describe('Histogram', () => {
  test('a value equal to a bound falls in that bucket; above every bound in +Inf', () => {
    const h = new Histogram([0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 1, 2]) h.observe(v);
    assert.deepEqual(h.counts, [2, 2, 1]);
    assert.equal(h.count, 5);
    assert.ok(Math.abs(h.sum - 3.65) < 1e-9);
  });

  test('listeners hear later observations until stopped; bounds must increase', () => {
    const h = new Histogram([1]);
    const heard: number[] = [];
    h.observe(0.5);
    const stop = h.listen((v) => heard.push(v));
    h.observe(2);
    stop();
    h.observe(3);
    assert.deepEqual(heard, [2]);
    assert.throws(() => new Histogram([1, 1]), RangeError);
  });
});

function snapshotWith(labels: Record<string, string>): MetricsSnapshot {
  const rtt = new Histogram([0.01, 0.1]);
  rtt.observe(0.005);
  rtt.observe(0.05);
  rtt.observe(5);
  return {
    [METRICS.closed.name]: { ...METRICS.closed, type: 'counter', samples: [{ labels, value: 3 }] },
    [METRICS.rtt.name]: { ...METRICS.rtt, type: 'histogram', samples: [{ labels: { route: '/a' }, histogram: rtt.snapshot() }] },
  };
}

describe('Prometheus text format 0.0.4', () => {
  test('HELP, TYPE, samples, and a histogram as cumulative buckets with _sum and _count', () => {
    const text = renderPrometheus(snapshotWith({ code: '1000' }));
    assert.equal(
      text,
      [
        `# HELP wskit_connections_closed_total ${METRICS.closed.help}`,
        '# TYPE wskit_connections_closed_total counter',
        'wskit_connections_closed_total{code="1000"} 3',
        `# HELP wskit_keepalive_rtt_seconds ${METRICS.rtt.help}`,
        '# TYPE wskit_keepalive_rtt_seconds histogram',
        'wskit_keepalive_rtt_seconds_bucket{route="/a",le="0.01"} 1',
        'wskit_keepalive_rtt_seconds_bucket{route="/a",le="0.1"} 2',
        'wskit_keepalive_rtt_seconds_bucket{route="/a",le="+Inf"} 3',
        'wskit_keepalive_rtt_seconds_sum{route="/a"} 5.055',
        'wskit_keepalive_rtt_seconds_count{route="/a"} 3',
        '',
      ].join('\n'),
    );
  });

  test('special values are spelled as the format wants', () => {
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(NaN), 'NaN');
    assert.equal(formatValue(1e21), '1e+21');
  });

  test('any label value survives rendering and parsing back (quotes, backslashes, newlines, escapes)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        const parsed = parseExposition(renderPrometheus(snapshotWith({ route: value })));
        assert.equal(parsed.malformed, 0);
        assert.deepEqual({ ...parsed.metrics.get('wskit_connections_closed_total')![0]!.labels }, { route: value });
        // One sample line per sample: a newline in a value never splits a line.
        assert.equal(parsed.metrics.get('wskit_keepalive_rtt_seconds_bucket')!.length, 3);
      }),
    );
  });
});

describe('the exposition parser of wskit top', () => {
  test('reads samples with and without labels, timestamps, special values; skips comments', () => {
    const parsed = parseExposition(
      '# HELP x help\n# TYPE x counter\nx 1\ny{a="1",b="two words"} 2.5 1700000000000\nz{a="x",} +Inf\nw NaN\n\n',
    );
    assert.equal(parsed.malformed, 0);
    assert.deepEqual(parsed.metrics.get('x')!.map((s) => ({ ...s, labels: { ...s.labels } })), [{ labels: {}, value: 1 }]);
    assert.deepEqual({ ...parsed.metrics.get('y')![0]!.labels }, { a: '1', b: 'two words' });
    assert.equal(parsed.metrics.get('y')![0]!.value, 2.5);
    assert.equal(parsed.metrics.get('z')![0]!.value, Infinity);
    assert.ok(Number.isNaN(parsed.metrics.get('w')![0]!.value));
  });

  test('malformed lines are counted and skipped, never thrown on', () => {
    const bad = ['x{a="1"', 'x{a=1} 2', 'x{a="\\q"} 1', '1x 2', 'x 1 2 3', 'x abc', 'x{="v"} 1', 'x{a="v"}'];
    const parsed = parseExposition([...bad, 'ok 1'].join('\n'));
    assert.equal(parsed.malformed, bad.length);
    assert.deepEqual([...parsed.metrics.keys()], ['ok']);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => void parseExposition(text)));
  });

  test('keeps at most MAX_SAMPLES samples', () => {
    const parsed = parseExposition('x 1\n'.repeat(MAX_SAMPLES + 10));
    assert.equal(parsed.metrics.get('x')!.length, MAX_SAMPLES);
  });

  test('histogram quantiles interpolate within buckets like histogram_quantile', () => {
    const parsed = parseExposition('h_bucket{le="1"} 0\nh_bucket{le="2"} 10\nh_bucket{le="4"} 20\nh_bucket{le="+Inf"} 20\n');
    assert.equal(histogramQuantile(parsed, 'h', 0.5), 2);
    assert.equal(histogramQuantile(parsed, 'h', 0.25), 1.5);
    assert.equal(histogramQuantile(parsed, 'h', 0.75), 3);
    assert.equal(histogramQuantile(parseExposition(''), 'h', 0.5), null);
  });
});
