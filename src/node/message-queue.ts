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
  // The waiting reader's promise functions as two fields, not an object (memory per idle connection).
  // `asResult`: it is an iterator's next(), answered with IteratorResults.
  private resolveWaiter: ((value: never) => void) | null = null;
  private rejectWaiter: ((error: Error) => void) | null = null;
  private asResult = false;
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
    const resolve = this.resolveWaiter as ((value: Message | IteratorResult<Message>) => void) | null;
    if (resolve !== null) {
      this.resolveWaiter = null;
      this.rejectWaiter = null;
      resolve(this.asResult ? { value: message, done: false } : message);
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
    return this.resolveWaiter !== null;
  }

  /** Waits for the next message (the queue must be empty). */
  wait(): Promise<Message> {
    this.asResult = false;
    waitingQueue = this;
    return new Promise<Message>(captureWaiter);
  }

  /** Waits for the next message as an iterator result (the queue must be empty). */
  waitResult(): Promise<IteratorResult<Message>> {
    this.asResult = true;
    waitingQueue = this;
    return new Promise<IteratorResult<Message>>(captureWaiter);
  }

  /** @internal */
  setWaiter(resolve: (value: never) => void, reject: (error: Error) => void): void {
    this.resolveWaiter = resolve;
    this.rejectWaiter = reject;
  }

  /**
   * The connection closed: rejects the waiting reader with `error`, or, if it
   * is an iterator and the close was normal (`end`), ends its iteration.
   */
  abort(error: Error, end = false): void {
    const resolve = this.resolveWaiter as ((value: IteratorResult<Message>) => void) | null;
    const reject = this.rejectWaiter;
    this.resolveWaiter = null;
    this.rejectWaiter = null;
    if (end && this.asResult) resolve?.({ value: undefined, done: true });
    else reject?.(error);
  }
}

// The promise executor is one shared function, not a closure per wait: it runs synchronously
// inside `new Promise`, so the queue being waited on is passed through this variable.
let waitingQueue: MessageQueue | null = null;
function captureWaiter(resolve: (value: never) => void, reject: (error: Error) => void): void {
  waitingQueue!.setWaiter(resolve, reject);
  waitingQueue = null;
}
