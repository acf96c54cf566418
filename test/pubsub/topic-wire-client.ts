/** A bare `wskit.topics.v1` client for the tests: sends raw requests and waits for decoded replies. */
import { connect, decodeTopicFrame, encodeTopicFrame, TOPICS_PROTOCOL, type Connection } from '../../src/index.js';
import { within } from '../helpers.js';

/** A received message: its header, with `data` (text frames) or `bytes` (binary frames). */
export type Received = Record<string, unknown> & { bytes?: Uint8Array };

/** A raw protocol client. */
export class WireClient {
  /** Everything received, in order. */
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: Connection) {
    void (async () => {
      for await (const message of ws) {
        const { header, bytes } = decodeTopicFrame(message);
        this.received.push(bytes === null ? header : { ...header, bytes });
        for (const wake of this.waiters.splice(0)) wake();
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        for (const wake of this.waiters.splice(0)) wake();
      });
  }

  /** Connects, offering the subprotocol. */
  static async open(url: string): Promise<WireClient> {
    return new WireClient(await connect(url, { subprotocols: [TOPICS_PROTOCOL], compression: false }));
  }

  /** Sends one request (a JSON object, or a header and bytes as a binary frame). */
  send(header: Record<string, unknown>, bytes?: Uint8Array): Promise<void> {
    return this.ws.send(encodeTopicFrame(header, bytes === undefined ? null : { bytes }));
  }

  /** The publications received on `topic`. */
  pubs(topic: string): Received[] {
    return this.received.filter((m) => m.type === 'pub' && m.topic === topic);
  }

  /** Waits until `check` holds over what was received. */
  async until(check: (received: Received[]) => boolean, what: string, ms = 5000): Promise<void> {
    await within(
      (async () => {
        while (!check(this.received)) {
          if (this.ws.readyState === 3) throw new Error(`closed (${this.ws.closeCode}) while waiting for ${what}`);
          await new Promise<void>((resolve) => this.waiters.push(resolve));
        }
      })(),
      ms,
      what,
    );
  }

  /** Waits for the first message matching `match` and returns it. */
  async next(match: Partial<Received>, ms = 5000): Promise<Received> {
    const found = (list: Received[]) => list.find((m) => Object.entries(match).every(([k, v]) => m[k] === v));
    await this.until((list) => found(list) !== undefined, JSON.stringify(match), ms);
    return found(this.received)!;
  }
}
