/**
 * One connection's subscription to one topic, with its position: it replays from the history what the client
 * missed, then goes live without a gap or a duplicate at the seam, and fills any later gap (a live publication
 * lost between Redis and this node, an epoch change) from the history again.
 *
 * While it is catching up, live publications are held (up to `maxPending`) and sent after the replay, skipping
 * those the replay already sent; beyond the bound, or on a gap, it reads the history again from its position.
 */
import type { Connection } from '../node/connection.js';
import { State } from '../protocol/protocol.js';
import { recordResume } from '../metrics/route-meter.js';
import type { RequestId } from '../client/topics-wire.js';
import type { Publication, StreamPosition, TopicHistory } from './history.js';

/** What a subscription needs of its topic server. */
export interface SubscriptionHost {
  /** The topic store. */
  readonly history: TopicHistory;
  /** Publications read from the history at a time. */
  readonly replayBatch: number;
  /** Live publications held per subscription while it catches up. */
  readonly maxPending: number;
  /** The frame of a publication (encoded once for every subscriber). */
  frameOf(publication: Publication): string | Uint8Array;
  /** Sends a control message to the connection. */
  reply(ws: Connection, header: Record<string, unknown>): Promise<void>;
  /** The history failed: the connection is closed, and the client resumes once reconnected. */
  failed(ws: Connection, error: unknown): void;
}

/** A connection's subscription to a topic. */
export class TopicSubscription {
  /** The epoch of the last publication sent (null until the subscription is answered). */
  epoch: string | null = null;
  /** The offset of the last publication sent. */
  last = 0;
  /** Whether live publications go straight to the connection (no catch-up in progress). */
  live = false;
  /** Set once unsubscribed or the connection closed: nothing more is sent. */
  closed = false;
  private pending: Publication[] = [];
  private overflowed = false;

  constructor(
    readonly ws: Connection,
    readonly topic: string,
    private readonly host: SubscriptionHost,
    private readonly id: RequestId | undefined,
    private readonly since: StreamPosition | null,
  ) {}

  /** Answers the subscribe request: `subscribed`, the replay, then live. */
  start(): void {
    void this.sync(true);
  }

  /**
   * A live publication of the topic: true when the caller should send it now (live, and next in order); held or
   * dropped otherwise (a duplicate), and a gap or another epoch starts a catch-up from the history.
   */
  offer(publication: Publication): boolean {
    if (this.closed) return false;
    if (!this.live) {
      if (this.pending.length < this.host.maxPending) this.pending.push(publication);
      else this.overflowed = true;
      return false;
    }
    if (publication.epoch === this.epoch) {
      if (publication.offset <= this.last) return false;
      if (publication.offset === this.last + 1) {
        this.last = publication.offset;
        return true;
      }
    }
    this.live = false;
    this.pending = [publication];
    void this.sync(false);
    return false;
  }

  /** Live publications may have been lost (the history's live feed reconnected): check the history. */
  resync(): void {
    if (!this.live || this.closed) return;
    this.live = false;
    void this.sync(false);
  }

  private async sync(first: boolean): Promise<void> {
    const { history, replayBatch } = this.host;
    try {
      let since = first ? this.since : { offset: this.last, epoch: this.epoch! };
      for (;;) {
        const read = await history.read(this.topic, since, replayBatch);
        if (this.closed) return;
        if (first) {
          first = false;
          const recovered = since === null || read.recovered;
          await this.host.reply(this.ws, { type: 'subscribed', id: this.id, topic: this.topic, epoch: read.epoch, offset: read.offset, recovered });
          if (since !== null) recordResume(this.ws, read.recovered);
          [this.epoch, this.last] = since !== null && read.recovered ? [since.epoch, since.offset] : [read.epoch, read.offset];
        } else if (!read.recovered) {
          await this.host.reply(this.ws, { type: 'subscribed', topic: this.topic, epoch: read.epoch, offset: read.offset, recovered: false });
          recordResume(this.ws, false);
          [this.epoch, this.last] = [read.epoch, read.offset];
        }
        // A page is handed to the connection in one go and its last send awaited: one write per page instead of
        // one per publication, and at most `replayBatch` publications queued (the bound stays the page size).
        let sent: Promise<void> | null = null;
        for (const publication of read.publications) {
          sent = this.ws.send(this.host.frameOf(publication));
          sent.catch(noop); // the last one is awaited below; a closed connection fails them all alike
          this.last = publication.offset;
        }
        if (sent !== null) await sent;
        if (this.closed) return;
        if (read.recovered && read.publications.length > 0 && this.last < read.offset) {
          since = { offset: this.last, epoch: this.epoch! };
          continue;
        }
        if (await this.drain()) {
          this.live = true;
          return;
        }
        since = { offset: this.last, epoch: this.epoch! };
      }
    } catch (error) {
      if (!this.closed && this.ws.readyState === State.OPEN) this.host.failed(this.ws, error);
    }
  }

  /** Sends the held publications that follow the position; false when there is a gap to read from the history. */
  private async drain(): Promise<boolean> {
    while (this.pending.length > 0 || this.overflowed) {
      if (this.overflowed) {
        this.overflowed = false;
        this.pending = [];
        return false;
      }
      const publication = this.pending.shift()!;
      if (publication.epoch === this.epoch && publication.offset <= this.last) continue;
      if (publication.epoch !== this.epoch || publication.offset !== this.last + 1) {
        this.pending = [];
        return false;
      }
      await this.ws.send(this.host.frameOf(publication));
      this.last = publication.offset;
      if (this.closed) return true;
    }
    return true;
  }
}

function noop(): void {}
