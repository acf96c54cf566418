/**
 * For the browser build only (tsconfig.browser.json): src/errors.ts names
 * Node's Buffer in a type; in the browser those bytes are a Uint8Array.
 */
type Buffer = Uint8Array;
