import { serve } from '../node/server.js';
import { parseOptions, parsePort, untilSignal } from './args.js';

/** One line for `wskit --help`. */
export const summary = 'run an echo server (text echoed as text, binary as binary, any path)';

/** `wskit echo --help`. */
export const help = `Usage: wskit echo [--port P] [--host H] [--max-size N] [--no-compression]

Runs a WebSocket echo server: every message comes back unchanged, on any path.
Prints the URL it listens on; Ctrl-C or SIGTERM closes every connection with
1001 and exits.

Options:
  -p, --port P     port to listen on (default 8765; 0 picks a free port)
      --host H     interface to listen on (default 127.0.0.1)
      --max-size N largest message in bytes (default 1048576)
      --no-compression
                   don't negotiate permessage-deflate (on by default, as in
                   browsers and Python websockets)

Examples:
  wskit echo
  wskit echo --port 9000 --host 0.0.0.0
`;

/** Runs the echo server until a signal arrives. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'max-size': { type: 'string' },
    'no-compression': { type: 'boolean' },
  });
  const maxMessageSize = values['max-size'] === undefined ? undefined : Number(values['max-size']);
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { host: values.host ?? '127.0.0.1', port: parsePort(values.port, 8765), maxMessageSize, logger: null, compression: !values['no-compression'] },
  );
  process.stdout.write(`Listening on ${server.url}\n`);
  await untilSignal();
  await server.close(1001, 'server shutting down');
  return 0;
}
