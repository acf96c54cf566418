import { serve } from '../node/server.js';
import { LIMIT_FLAGS, limitOptions, parseOptions, parsePort, untilSignal } from './args.js';

/** One line for `wskit --help`. */
export const summary = 'run an echo server (text echoed as text, binary as binary, any path)';

/** `wskit echo --help`. */
export const help = `Usage: wskit echo [--port P] [--host H] [--max-size N] [--max-fragments N] [--no-compression] [--metrics]

Runs a WebSocket echo server: every message comes back unchanged, on any path.
Prints the URL it listens on; Ctrl-C or SIGTERM closes every connection with
1001 and exits.

Options:
  -p, --port P     port to listen on (default 8765; 0 picks a free port)
      --host H     interface to listen on (default 127.0.0.1)
      --max-size N largest message in bytes (default 1M; 64k, 1M... accepted)
      --max-fragments N
                   frames a message may be split into, plus one per 16 bytes
                   of its payload (default 16384; closed with 1008 beyond)
      --no-compression
                   don't negotiate permessage-deflate (on by default, as in
                   browsers and Python websockets)
      --metrics    answer GET /metrics on the same port (Prometheus text
                   format; watch it live with 'wskit top URL')

Examples:
  wskit echo
  wskit echo --port 9000 --host 0.0.0.0
  wskit echo --max-size 64M      # the Autobahn|Testsuite configuration
`;

/** Runs the echo server until a signal arrives. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    ...LIMIT_FLAGS,
    'no-compression': { type: 'boolean' },
    metrics: { type: 'boolean' },
  });
  const limits = limitOptions(values);
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    {
      host: values.host ?? '127.0.0.1',
      port: parsePort(values.port, 8765),
      ...limits,
      logger: null,
      compression: !values['no-compression'],
      metrics: values.metrics === true,
    },
  );
  process.stdout.write(`Listening on ${server.url}\n`);
  if (values.metrics) process.stdout.write(`Metrics on ${server.url.replace(/^ws/, 'http')}/metrics\n`);
  await untilSignal();
  await server.close(1001, 'server shutting down');
  return 0;
}
