import type { Message } from './types.js';

/**
 * Received messages waiting to be read, with one pending reader at most.
 * Above `high` queued messages the transport is paused (TCP backpressure), and
 * it is resumed at `low`, like Python websockets' max_queue.
 */
export class MessageQueue {
  private items: Message[] = [];
  private head = 0;
  private waiter: { resolve: (m: Message) => void; reject: (e: Error) => void } | null = null;
  private readonly high: number;
  private readonly low: number;
  private paused = false;
  private readonly pause: () => void;
  private readonly resume: () => void;

  constructor(high: number, pause: () => void, resume: () => void) {
    this.high = high;
    this.low = Math.max(0, Math.floor(high / 4));
    this.pause = pause;
    this.resume = resume;
  }

  /** Number of messages waiting. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Hands a message to the waiting reader, or queues it. */
  push(message: Message): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter.resolve(message);
      return;
    }
    this.items.push(message);
    if (!this.paused && this.items.length - this.head >= this.high) {
      this.paused = true;
      this.pause();
    }
  }

  /** Takes the next message if one is queued, else undefined. */
  shift(): Message | undefined {
    if (this.head === this.items.length) return undefined;
    const message = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as Message;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.paused && this.items.length - this.head <= this.low) {
      this.paused = false;
      this.resume();
    }
    return message;
  }

  /** Whether a reader is waiting. */
  get waiting(): boolean {
    return this.waiter !== null;
  }

  /** Waits for the next message (the queue must be empty). */
  wait(): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Rejects the waiting reader, if any. */
  abort(error: Error): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }
}
