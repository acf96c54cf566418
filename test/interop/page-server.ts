/** The page Chromium tests open: a blank page on 127.0.0.1 from an http server with wskit attached. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { attach, type Handler, type ServerOptions } from '../../src/index.js';

/**
 * An http server on 127.0.0.1 serving a blank page, with wskit attached: Chromium blocks
 * about:blank from reaching loopback (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS), not a local page.
 */
export async function pageServer(handler: Handler, options: ServerOptions) {
  const httpServer = http.createServer((_req, res) => res.end('<!doctype html><title>wskit</title>'));
  const server = attach(httpServer, handler, { logger: null, ...options });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    httpServer,
    page: `http://127.0.0.1:${port}/`,
    url: `ws://127.0.0.1:${port}/`,
    async close() {
      // Chromium's page connections are keep-alive: end them, or httpServer.close() waits for them.
      httpServer.closeAllConnections();
      await server.close();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}
