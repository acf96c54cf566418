/**
 * Runs a browser snippet (one that imports `wskit/browser`) in headless Chromium: a loopback HTTP server serves a
 * page whose import map points `wskit/browser` at dist/browser, imports the compiled snippet, and hosts the
 * WebSocket endpoint `/live` the snippet talks to. What the page logs is the snippet's output.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { attach, type Handler } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers.js';

const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "wskit/browser": "/wskit/browser/index.js" } }</script>
<script type="module">
  try {
    await import('/snippet.js');
  } catch (error) {
    console.error(String(error));
  }
  document.title = 'done';
</script>`;

/** What the page logged (console.log lines as stdout, console.error and page errors as stderr), once the snippet ended. */
export async function runInChromium(compiled: string, live: Handler, timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  const httpServer = http.createServer((request, response) => {
    const path = normalize(new URL(request.url ?? '/', 'http://x').pathname);
    const send = (type: string, body: string | Buffer) => response.writeHead(200, { 'Content-Type': type }).end(body);
    if (path === '/') return send('text/html', PAGE);
    if (path === '/favicon.ico') return void response.writeHead(204).end();
    if (path === '/snippet.js') return send('text/javascript', compiled);
    if (path.startsWith('/wskit/') && path.endsWith('.js')) {
      return void readFile(`dist/${path.slice('/wskit/'.length)}`).then(
        (body) => send('text/javascript', body),
        () => response.writeHead(404).end(),
      );
    }
    response.writeHead(404).end();
  });
  const server = attach(httpServer, live, { processRequest: (request) => (request.path === '/live' ? undefined : { status: 404 }) });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  let stdout = '';
  let stderr = '';
  try {
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') stderr += `${message.text()} (${message.location().url})\n`;
      else stdout += `${message.text()}\n`;
    });
    page.on('pageerror', (error) => (stderr += `${error.message}\n`));
    await page.goto(`http://127.0.0.1:${(httpServer.address() as { port: number }).port}/`);
    await page.waitForFunction(() => document.title === 'done', undefined, { timeout: timeoutMs });
  } finally {
    await browser.close();
    await server.close();
    httpServer.close();
  }
  return { stdout, stderr };
}
