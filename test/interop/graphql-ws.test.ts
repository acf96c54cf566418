/**
 * wskit's standard `WebSocket` as the `webSocketImpl` of the real graphql-ws client, against a graphql-ws server
 * hosted on wskit (graphql-ws's makeServer() through a small adapter): a query, a subscription streaming values,
 * a validation error, and the client's normal closure seen by the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, makeServer } from 'graphql-ws';
import { WebSocket, type CloseInfo, type Connection, type Server } from '../../src/index.js';
import { startServer } from '../helpers.js';

const schema = buildSchema(`
  type Query { hello(name: String!): String! }
  type Subscription { count(to: Int!): Int! }
`);

const rootValue = {
  hello: ({ name }: { name: string }) => `hello, ${name}`,
  // graphql-js calls a subscription field's resolver for the event stream: an async iterable of payloads.
  count: async function* ({ to }: { to: number }) {
    for (let i = 1; i <= to; i++) yield { count: i };
  },
};

/** graphql-ws's server on a wskit connection: what its `use/ws` adapter does for `ws`. */
function graphqlHandler(closes: CloseInfo[]) {
  const graphql = makeServer({ schema, roots: { query: rootValue, subscription: rootValue } });
  return async (ws: Connection): Promise<void> => {
    let onMessage: (data: string) => Promise<void> = async () => {};
    const closed = graphql.opened(
      {
        protocol: ws.subprotocol ?? '',
        send: (data) => ws.send(data),
        close: (code, reason) => void ws.close(code, reason).catch(() => undefined),
        // The callback of a subscription resolves when it completes: messages are not awaited one by one.
        onMessage: (callback) => (onMessage = callback),
      },
      { connection: ws },
    );
    try {
      for await (const message of ws) {
        onMessage(String(message)).catch((error: Error) => void ws.close(4500, error.message.slice(0, 100)).catch(() => undefined));
      }
    } catch {
      // closed with an error code: reported below like any close
    }
    const info = await ws.closed;
    closes.push(info);
    await closed(info.code, info.reason);
  };
}

/** Collects every result of one operation. */
async function results(client: Client, query: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const result of client.iterate({ query })) out.push(result);
  return out;
}

describe('graphql-ws client with webSocketImpl: WebSocket, on a graphql-ws server hosted on wskit', () => {
  let server: Server;
  const closes: CloseInfo[] = [];

  before(async () => {
    server = await startServer(graphqlHandler(closes), { subprotocols: [GRAPHQL_TRANSPORT_WS_PROTOCOL] });
  });
  after(async () => {
    await server?.close();
  });

  it('runs a query and a subscription over one connection, then closes it normally', async () => {
    const events: string[] = [];
    const client = createClient({
      url: server.url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false, // one connection for every operation, closed by dispose()
      on: {
        connected: (socket) => events.push(`connected ${(socket as WebSocket).protocol}`),
        closed: (event) => events.push(`closed ${(event as { code: number }).code}`),
      },
    });
    const [query, subscription] = await Promise.all([
      results(client, '{ hello(name: "wskit") }'),
      results(client, 'subscription { count(to: 4) }'),
    ]);
    assert.deepEqual(query, [{ data: { hello: 'hello, wskit' } }]);
    assert.deepEqual(subscription, [1, 2, 3, 4].map((count) => ({ data: { count } })));
    // An invalid operation: the server's validation error reaches the client as an error of that operation.
    await assert.rejects(results(client, '{ nope }'), (errors: unknown) => {
      assert.ok(Array.isArray(errors));
      assert.match((errors[0] as { message: string }).message, /Cannot query field "nope"/);
      return true;
    });
    await client.dispose();
    const deadline = Date.now() + 5_000;
    while (closes.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(closes, [{ code: 1000, reason: 'Normal Closure', wasClean: true }]);
    assert.deepEqual(events, [`connected ${GRAPHQL_TRANSPORT_WS_PROTOCOL}`, 'closed 1000']);
  });
});
