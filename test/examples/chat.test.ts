import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Connection } from '../../src/index.js';
import { within } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const URL_LINE = /(?:ws|http):\/\/[^\s/]+/;

const next = (ws: Connection) => within(ws.recv(), 5000, 'a chat message');

describe('examples/chat.ts', () => {
  let example: RunningExample;
  let url: string;
  before(async () => {
    example = runExample('chat.ts');
    url = (await example.line(URL_LINE))[0];
  });
  after(() => example.stop());

  it('shows join and leave notices and relays messages to the room only', async () => {
    const alice = await connect(`${url}/rooms/lobby?name=alice`);
    assert.equal(await next(alice), '* welcome to lobby, alice (1 here)');
    const bob = await connect(`${url}/rooms/lobby?name=bob`);
    assert.equal(await next(bob), '* welcome to lobby, bob (2 here)');
    assert.equal(await next(alice), '* bob joined');
    const carol = await connect(`${url}/rooms/other?name=carol`);
    assert.equal(await next(carol), '* welcome to other, carol (1 here)');

    await alice.send('hello');
    assert.equal(await next(alice), 'alice: hello');
    assert.equal(await next(bob), 'alice: hello');
    await bob.close();
    assert.equal(await next(alice), '* bob left');
    await carol.send('anyone?');
    assert.equal(await next(carol), 'carol: anyone?');
    await alice.send('bye');
    assert.equal(await next(alice), 'alice: bye', 'carol\'s message never reached the lobby');
    await Promise.all([alice.close(), carol.close()]);
  });
});
