/**
 * The wskit client under test in the Autobahn|Testsuite's client mode (its "fuzzingserver"), following the suite's
 * client protocol: read the case count from `/getCaseCount`, then for each case connect to
 * `/runCase?case=N&agent=AGENT` and echo every message (text as text, binary as binary) until the suite closes,
 * then ask for `/updateReports`.
 *
 *     node --import tsx test/interop/autobahn-client.ts ws://127.0.0.1:9001
 *
 * Options are the conformance configuration ({@link AUTOBAHN_CLIENT_OPTIONS}); `ATB_AGENT` names the agent
 * (default `wskit`). One line per case goes to stdout; the exit status is 0 once the reports were asked for.
 */
import { pathToFileURL } from 'node:url';
import { connect, type ConnectOptions } from '../../src/index.js';

/**
 * The client's conformance configuration: the defaults (compression offered, every limit on), except a 64 MiB
 * message limit, as the suite's 9.* cases send messages of up to 16 MiB (see docs/conformance.md).
 */
export const AUTOBAHN_CLIENT_OPTIONS: ConnectOptions = { maxMessageSize: 64 * 1024 * 1024 };

/** Echoes every message of one case until the suite closes the connection; errors are the suite's verdict. */
async function runCase(url: string): Promise<string> {
  let ws;
  try {
    ws = await connect(url, AUTOBAHN_CLIENT_OPTIONS);
  } catch (error) {
    return `connect failed: ${(error as Error).message}`;
  }
  try {
    for await (const message of ws) await ws.send(message);
  } catch {
    // A case that ends in a protocol error or an abrupt close: what matters is what went on the wire.
  }
  const info = await ws.closed;
  return `closed ${info.code}`;
}

async function main(base: string): Promise<void> {
  const agent = process.env.ATB_AGENT ?? 'wskit';
  const counter = await connect(`${base}/getCaseCount`);
  const count = Number(await counter.recv());
  await counter.closed;
  if (!Number.isInteger(count) || count < 0) throw new Error(`bad case count from ${base}/getCaseCount`);
  for (let i = 1; i <= count; i++) {
    const outcome = await runCase(`${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
    process.stdout.write(`case ${i}/${count}: ${outcome}\n`);
  }
  const reports = await connect(`${base}/updateReports?agent=${encodeURIComponent(agent)}`);
  await reports.closed;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const base = process.argv[2];
  if (base === undefined) {
    process.stderr.write('usage: autobahn-client.ts ws://127.0.0.1:PORT\n');
    process.exit(2);
  }
  main(base.replace(/\/$/, '')).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`autobahn-client: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
