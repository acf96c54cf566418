/**
 * A closed stdout (`wskit connect URL | head -2`) ends a command quietly, as
 * Unix tools do, instead of an unhandled `write EPIPE` with a stack trace:
 * write errors on stdout and stderr are caught here once for every command,
 * and commands that care (connect stops, proxy keeps relaying without
 * printing) are told.
 */

let closed = false;
const listeners = new Set<() => void>();

/** Whether stdout's reader has gone away (nothing written to stdout is read any more). */
export function stdoutClosed(): boolean {
  return closed;
}

/** Calls `listener` once when stdout's reader goes away; returns a function that unregisters it. */
export function onStdoutClosed(listener: () => void): () => void {
  if (closed) {
    queueMicrotask(listener);
    return () => undefined;
  }
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Catches write errors on stdout (EPIPE: the reader left) and stderr (nowhere left to report them); call once at start. */
export function guardOutput(): void {
  process.stdout.on('error', () => {
    if (closed) return;
    closed = true;
    for (const listener of listeners) listener();
    listeners.clear();
  });
  process.stderr.on('error', () => undefined);
}

/** Resolves when stdout drained, or its reader went away. */
export function stdoutDrained(): Promise<void> {
  return new Promise((resolve) => {
    let forget: () => void = () => undefined;
    const done = () => {
      forget();
      process.stdout.off('drain', done);
      resolve();
    };
    forget = onStdoutClosed(done);
    process.stdout.once('drain', done);
  });
}
