/**
 * What a server's topics need from a backplane, the transport that carries publishes between server nodes. The
 * server defines the interface; `pubsub/` implements it (in-process, Redis), so that data flows one way: pubsub
 * knows the server, the server knows no transport.
 */

/** A publish as it travels between nodes. */
export interface BackplaneMessage {
  /** The topic published to. */
  topic: string;
  /** The message: a string is text, a Buffer binary. */
  data: string | Buffer;
}

/** Transport of publishes between server nodes (crossws's SyncDriver, with start and close). */
export interface Backplane {
  /** This node's identity; a node ignores messages that carry its own. */
  readonly nodeId: string;
  /**
   * Connects and starts handing other nodes' messages to `deliver`. Rejects
   * with a clear error when the transport is unreachable.
   */
  start(deliver: (message: BackplaneMessage) => void): Promise<void>;
  /** Sends a message to the other nodes (never back to this one). */
  publish(message: BackplaneMessage): void;
  /**
   * The Hub calls this when `topic` gets its first subscriber on this node, so a backplane that can route by topic
   * (Redis: a channel per topic) receives only the topics this node has subscribers to. Optional.
   */
  follow?(topic: string): void;
  /** The Hub calls this when `topic` loses its last subscriber on this node. Optional. */
  unfollow?(topic: string): void;
  /** Disconnects. */
  close(): Promise<void>;
  /** Whether the transport is connected now (the `wskit_backplane_up` metric); absent: up once started. */
  readonly ready?: boolean;
  /** Publishes not sent because the transport was down (the `wskit_backplane_dropped_total` metric). Optional. */
  readonly dropped?: number;
  /**
   * A server with metrics on calls this once: the backplane then records into `histogram` how long each
   * publish takes to be accepted by its transport, in seconds (`wskit_backplane_publish_duration_seconds`). Optional.
   */
  measure?(histogram: PublishTimes): void;
}

/** Where a backplane records how long its publishes take (a histogram of the server's metrics). */
export interface PublishTimes {
  /** Records one publish's time to acceptance, in seconds. */
  observe(seconds: number): void;
}
