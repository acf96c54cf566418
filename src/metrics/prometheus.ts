/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): `# HELP` and `# TYPE` lines, then one
 * `name{label="value"} number` line per sample; a histogram as cumulative `_bucket{le=…}` lines, `_sum` and `_count`.
 */
import type { MetricFamily, MetricsSnapshot } from './families.js';

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Renders a snapshot in the text exposition format. */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  let out = '';
  for (const family of Object.values(snapshot)) out += renderFamily(family);
  return out;
}

function renderFamily(family: MetricFamily): string {
  let out = `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
  if (family.type !== 'histogram') {
    for (const sample of family.samples) out += `${family.name}${labelText(sample.labels)} ${formatValue(sample.value)}\n`;
    return out;
  }
  for (const { labels, histogram } of family.samples) {
    let cumulative = 0;
    for (let i = 0; i <= histogram.bounds.length; i++) {
      cumulative += histogram.counts[i] ?? 0;
      const le = i < histogram.bounds.length ? formatValue(histogram.bounds[i]!) : '+Inf';
      out += `${family.name}_bucket${labelText({ ...labels, le })} ${formatValue(cumulative)}\n`;
    }
    out += `${family.name}_sum${labelText(labels)} ${formatValue(histogram.sum)}\n`;
    out += `${family.name}_count${labelText(labels)} ${formatValue(histogram.count)}\n`;
  }
  return out;
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  return `{${names.map((name) => `${name}="${escapeLabelValue(labels[name]!)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (the format's only escapes there). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value: Go's float syntax, with `+Inf`, `-Inf` and `NaN` spelled as the format wants. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
