/** Test helper: the HTTP status an HttpHeadError thrown by a parser carries. */
import assert from 'node:assert/strict';
import { HttpHeadError } from '../../src/protocol/http11.js';

/** Runs `fn`, which must throw an HttpHeadError, and returns its status. */
export function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpHeadError) return error.status;
    throw error;
  }
  assert.fail('expected an HttpHeadError');
}
