import type { Message } from './types.js';

/** What a queue pauses and resumes: methods on the owner, not closures (memory per idle connection). */
export interface QueueOwner {
  pauseQueue(): void;
  resumeQueue(): void;
}

/**
 * Received messages waiting to be read, with one pending reader at most.
 * Above `high` queued messages the transport is paused (TCP backpressure), and
 * it is resumed at `low`, like Python websockets' max_queue.
 */
export class MessageQueue {
  private items: Message[] | null = null;
  private head = 0;
  private waiter: { resolve: (m: Message) => void; reject: (e: Error) => void } | null = null;
  private readonly high: number;
  private readonly low: number;
  private paused = false;
  private readonly owner: QueueOwner;

  constructor(high: number, owner: QueueOwner) {
    this.high = high;
    this.low = Math.max(0, Math.floor(high / 4));
    this.owner = owner;
  }

  /** Number of messages waiting. */
  get length(): number {
    return this.items === null ? 0 : this.items.length - this.head;
  }

  /** Hands a message to the waiting reader, or queues it. */
  push(message: Message): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter.resolve(message);
      return;
    }
    const items = (this.items ??= []);
    items.push(message);
    if (!this.paused && items.length - this.head >= this.high) {
      this.paused = true;
      this.owner.pauseQueue();
    }
  }

  /** Takes the next message if one is queued, else undefined. */
  shift(): Message | undefined {
    const items = this.items;
    if (items === null || this.head === items.length) return undefined;
    const message = items[this.head]!;
    items[this.head++] = undefined as unknown as Message;
    let left = items.length - this.head;
    if (left === 0) {
      // Drop the array: an idle connection holds no backing store.
      this.items = null;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
      left = this.items.length;
    }
    if (this.paused && left <= this.low) {
      this.paused = false;
      this.owner.resumeQueue();
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
