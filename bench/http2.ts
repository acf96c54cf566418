/**
 * The http2 rows of `npm run bench` (also alone: `npm run bench -- --only http2`): N WebSockets as streams of one
 * HTTP/2 session against N WebSockets on N TCP connections, to the same wskit server (bench/server.ts --http2, h2c
 * beside HTTP/1.1, pinned to CPU 0), driven by wskit's own client (bench/h2-driver.ts, pinned to CPU 1). The order
 * of the two alternates per run (interleaved pairs); each figure is the median of the runs, each ratio the median
 * of the per-run h2/tcp ratios.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { here, median, pin, root, startServer, stopServer } from './harness.js';

const MODES = ['tcp', 'h2'] as const;

interface Http2Figures {
  hs_per_s: number;
  hs_per_cpu_s: number;
  rss_per_ws_kib: number;
  msg_per_s: number;
  msg_per_cpu_s: number;
}

function drive(port: number, pid: number, mode: string, n: number, seconds: number): Promise<Http2Figures> {
  const command = pin(1, [process.execPath, '--import', 'tsx', join(here, 'h2-driver.ts'), String(port), String(pid), mode, String(n), String(seconds)]);
  const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const match = /RESULT (.+)/.exec(out);
      if (match === null) reject(new Error(`h2 driver (${mode}) exited ${code}: ${err.split('\n').slice(0, 5).join(' ')}`));
      else resolve(JSON.parse(match[1]!) as Http2Figures);
    });
  });
}

/** Runs the rows and returns the lines of their table. */
export async function http2Rows(serverScript: string[], runs: number, quick: boolean): Promise<string[]> {
  const n = quick ? 200 : 2000;
  const seconds = quick ? 2 : 5;
  const samples: Record<(typeof MODES)[number], Http2Figures[]> = { tcp: [], h2: [] };
  const ratios: Array<Record<keyof Http2Figures, number>> = [];
  for (let run = 1; run <= runs; run++) {
    const order = run % 2 === 1 ? MODES : [...MODES].reverse();
    const figures: Partial<Record<(typeof MODES)[number], Http2Figures>> = {};
    for (const mode of order) {
      // A fresh server per measurement: memory per WebSocket is read from its RSS.
      const { child, port } = await startServer(pin(0, [process.execPath, ...serverScript, 'wskit', '--http2']), `wskit (${mode})`);
      try {
        figures[mode] = await drive(port, child.pid!, mode, n, seconds);
      } finally {
        await stopServer(child);
      }
      samples[mode].push(figures[mode]!);
    }
    const ratio = {} as Record<keyof Http2Figures, number>;
    for (const key of Object.keys(figures.h2!) as Array<keyof Http2Figures>) ratio[key] = figures.h2![key] / figures.tcp![key];
    ratios.push(ratio);
  }
  const med = (mode: (typeof MODES)[number], key: keyof Http2Figures): number => median(samples[mode].map((s) => s[key]));
  const ratio = (key: keyof Http2Figures): string => `${median(ratios.map((r) => r[key])).toFixed(2)}x`;
  const fmt = (value: number): string => (value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2));
  const rows: Array<[string, keyof Http2Figures, string]> = [
    [`handshakes, ${n} WebSockets (64 at once)`, 'hs_per_s', 'handshakes/s'],
    [`handshakes, ${n} WebSockets (64 at once)`, 'hs_per_cpu_s', 'handshakes per server CPU-s'],
    [`${n} WebSockets open`, 'rss_per_ws_kib', 'server RSS KiB per WebSocket (lower is better)'],
    [`echo 64 B, ${n} WebSockets x 1 in flight, ${seconds} s`, 'msg_per_s', 'msgs/s'],
    [`echo 64 B, ${n} WebSockets x 1 in flight, ${seconds} s`, 'msg_per_cpu_s', 'msgs per server CPU-s'],
  ];
  return [
    '',
    `WebSockets over one HTTP/2 session (h2c) vs one TCP connection each, same wskit server, wskit's client as the driver; ${runs} run(s), medians, ratio h2/tcp = median of per-run ratios`,
    '',
    '| scenario | metric | N TCP connections | 1 h2 session | h2/tcp |',
    '|---|---|---:|---:|---:|',
    ...rows.map(([title, key, label]) => `| ${title} | ${label} | ${fmt(med('tcp', key))} | ${fmt(med('h2', key))} | ${ratio(key)} |`),
  ];
}
