import type { Message } from './types.js';

/** What a queue pauses and resumes: methods on the owner, not closures (memory per idle connection). */
export interface QueueOwner {
  pauseQueue(): void;
  resumeQueue(): void;
}

/**
 * Received messages waiting to be read, with one pending reader at most.
 * Messages still being decoded (decompressed) count as well, from the moment
 * they are received: at `high` messages queued or decoding the owner is told
 * to stop reading (input and transport paused: TCP backpressure), and at a quarter of `high`
 * to read again, like Python websockets' max_queue.
 */
export class MessageQueue {
  private items: Message[] | null = null;
  private head = 0;
  // The waiting reader's promise is settled through its resolve function alone: the reject function is not kept (a
  // closure less per waiting reader, memory per idle connection); a rejection resolves it with a rejected promise.
  // `asResult`: it is an iterator's next(), answered with IteratorResults.
  private resolveWaiter: ((value: never) => void) | null = null;
  private asResult = false;
  private readonly high: number;
  private paused = false;
  /** The reader was handed a message and has not asked for another since: it may still be handling it. */
  readerBusy = false;
  /** Messages received and still being decoded: see {@link expect}. */
  private incoming = 0;
  private readonly owner: QueueOwner;

  constructor(high: number, owner: QueueOwner) {
    this.high = high;
    this.owner = owner;
  }

  /** Number of messages waiting. */
  get length(): number {
    return this.items === null ? 0 : this.items.length - this.head;
  }

  /** Whether the owner was told to stop reading (and not yet to read again). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether messages queued and decoding have reached `high`. */
  get isFull(): boolean {
    return this.length + this.incoming >= this.high;
  }

  /** A message was received and is being decoded: it counts toward `high` until {@link push}ed (expected) or {@link abandon}ed. */
  expect(): void {
    this.incoming++;
    this.pauseIfFull();
  }

  /** A message being decoded will not come (decoding failed). */
  abandon(): void {
    this.incoming--;
    this.resumeIfLow();
  }

  /** Hands a message to the waiting reader, or queues it. `expected`: announced by {@link expect}. */
  push(message: Message, expected = false): void {
    if (expected) this.incoming--;
    const resolve = this.resolveWaiter as ((value: Message | IteratorResult<Message>) => void) | null;
    if (resolve !== null) {
      this.resolveWaiter = null;
      this.readerBusy = true;
      resolve(this.asResult ? { value: message, done: false } : message);
      if (expected) this.resumeIfLow();
      return;
    }
    (this.items ??= []).push(message);
    this.pauseIfFull();
  }

  private pauseIfFull(): void {
    if (!this.paused && this.length + this.incoming >= this.high) {
      this.paused = true;
      this.owner.pauseQueue();
    }
  }

  private resumeIfLow(): void {
    // Resumes at a quarter of `high` (computed, not a field: memory per idle connection).
    if (this.paused && this.length + this.incoming <= Math.floor(this.high / 4)) {
      this.paused = false;
      this.owner.resumeQueue();
    }
  }

  /** Takes the next message if one is queued, else undefined (the reader is done with what it was handed). */
  shift(): Message | undefined {
    const items = this.items;
    if (items === null || this.head === items.length) {
      this.readerBusy = false;
      return undefined;
    }
    this.readerBusy = true;
    const message = items[this.head]!;
    items[this.head++] = undefined as unknown as Message;
    if (this.head === items.length) {
      // Drop the array: an idle connection holds no backing store.
      this.items = null;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    // Last: resuming may parse held input, which pushes more messages.
    this.resumeIfLow();
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
  setWaiter(resolve: (value: never) => void): void {
    this.resolveWaiter = resolve;
  }

  /**
   * The connection closed: rejects the waiting reader with `error`, or, if it
   * is an iterator and the close was normal (`end`), ends its iteration.
   */
  abort(error: Error, end = false): void {
    const resolve = this.resolveWaiter as ((value: IteratorResult<Message> | Promise<never>) => void) | null;
    if (resolve === null) return;
    this.resolveWaiter = null;
    if (end && this.asResult) resolve({ value: undefined, done: true });
    else resolve(Promise.reject(error));
  }
}

// The promise executor is one shared function, not a closure per wait: it runs synchronously
// inside `new Promise`, so the queue being waited on is passed through this variable.
let waitingQueue: MessageQueue | null = null;
function captureWaiter(resolve: (value: never) => void): void {
  waitingQueue!.setWaiter(resolve);
  waitingQueue = null;
}
