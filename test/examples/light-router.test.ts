import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, InvalidStatus } from '../../src/index.js';
import { runExample, type RunningExample } from './run-example.js';

const URL_LINE = /(?:ws|http):\/\/[^\s/]+/;

describe('examples/light-router.ts', () => {
  let example: RunningExample;
  let url: string;
  before(async () => {
    example = runExample('light-router.ts');
    url = (await example.line(URL_LINE))[0];
  });
  after(() => example.stop());

  it('/light/on and /light/off switch the light', async () => {
    for (const status of ['on', 'off', 'on']) {
      const ws = await connect(`${url}/light/${status}`);
      assert.equal(await ws.recv(), `light is ${status}`);
      assert.equal((await ws.closed).code, 1000);
    }
  });

  it('/light/other answers "invalid params"', async () => {
    const ws = await connect(`${url}/light/other`);
    assert.equal(await ws.recv(), 'invalid params');
    assert.equal((await ws.closed).code, 1008);
  });

  it('an unknown path is refused with 404 during the handshake', async () => {
    for (const path of ['/dark/on', '/light', '/light/on/extra']) {
      await assert.rejects(connect(`${url}${path}`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 404);
        return true;
      });
    }
  });
});
