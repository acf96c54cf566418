/**
 * The error hierarchy, in the spirit of Python websockets:
 *
 *   WebSocketError
 *   ├── ConnectionClosed
 *   │   ├── ConnectionClosedOK      (1000, 1001 or 1005 both ways)
 *   │   └── ConnectionClosedError   (anything else; `cause` holds the reason)
 *   ├── InvalidHandshake
 *   │   ├── InvalidStatus           (the server answered with something else than 101)
 *   │   ├── InvalidHeader           (a handshake header is missing or wrong)
 *   │   └── NegotiationError        (subprotocol or extension negotiation failed)
 *   ├── ProtocolError               (the peer broke RFC 6455; carries the close code)
 *   │   └── PayloadTooBig           (a message exceeded maxMessageSize; 1009)
 *   ├── InvalidState                (our own misuse: sending after close, ...)
 *   └── TimeoutError                (open, close or ping timeout)
 *
 * Every error has a stable string `code` for programs to test.
 */

/** The base of every error wskit raises. */
export class WebSocketError extends Error {
  /** A stable machine-readable identifier, e.g. `WS_CLOSED_OK`. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The close frames seen on a connection, used by {@link ConnectionClosed}. */
export interface CloseInfo {
  /** Close code received from the peer, or 1006 when none arrived, 1005 when it carried none. */
  code: number;
  /** Close reason received from the peer. */
  reason: string;
  /** Whether the close handshake completed in both directions. */
  wasClean: boolean;
}

/** Raised when using a connection that is closed. */
export class ConnectionClosed extends WebSocketError {
  /** The close code received (1006 if the connection dropped without one). */
  readonly closeCode: number;
  /** The close reason received. */
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;
  constructor(info: CloseInfo, code: string, options?: { cause?: unknown }) {
    super(`connection closed: ${info.code}${info.reason ? ` (${info.reason})` : ''}`, code, options);
    this.closeCode = info.code;
    this.reason = info.reason;
    this.wasClean = info.wasClean;
  }
}

/** The connection closed normally (1000 or 1001, or no status). */
export class ConnectionClosedOK extends ConnectionClosed {
  constructor(info: CloseInfo) {
    super(info, 'WS_CLOSED_OK');
  }
}

/** The connection closed with an error code or dropped without a close frame. */
export class ConnectionClosedError extends ConnectionClosed {
  constructor(info: CloseInfo, options?: { cause?: unknown }) {
    super(info, 'WS_CLOSED_ERROR', options);
  }
}

/** The opening handshake failed. */
export class InvalidHandshake extends WebSocketError {
  constructor(message: string, code = 'WS_INVALID_HANDSHAKE', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/**
 * Node's `Buffer` where Node's types are loaded, else `Uint8Array`: errors.ts is shared with the browser build, whose
 * users have no `Buffer` type.
 */
type NodeBuffer = typeof globalThis extends { Buffer: { prototype: infer B } } ? B : Uint8Array;

/** A handshake response as seen by the client. */
export interface HttpResponseInfo {
  /** HTTP status code. */
  status: number;
  /** Reason phrase. */
  statusText: string;
  /** Response headers with lowercase names. */
  headers: Map<string, string>;
  /** The body, if any was read. */
  body: NodeBuffer;
}

/** The server rejected the handshake with an HTTP status other than 101. */
export class InvalidStatus extends InvalidHandshake {
  /** The HTTP response the server sent. */
  readonly response: HttpResponseInfo;
  constructor(response: HttpResponseInfo) {
    super(`server rejected WebSocket connection: HTTP ${response.status}`, 'WS_INVALID_STATUS');
    this.response = response;
  }
}

/** A handshake header is missing or has an invalid value. */
export class InvalidHeader extends InvalidHandshake {
  /** The header's name. */
  readonly header: string;
  constructor(header: string, message: string) {
    super(message, 'WS_INVALID_HEADER');
    this.header = header;
  }
}

/** Subprotocol or extension negotiation failed. */
export class NegotiationError extends InvalidHandshake {
  constructor(message: string) {
    super(message, 'WS_NEGOTIATION_ERROR');
  }
}

/** The peer violated the protocol; `closeCode` is what the connection was failed with. */
export class ProtocolError extends WebSocketError {
  /** The close code sent to the peer because of this error. */
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002, code = 'WS_PROTOCOL_ERROR') {
    super(message, code);
    this.closeCode = closeCode;
  }
}

/** A message exceeded `maxMessageSize`; the connection was failed with 1009. */
export class PayloadTooBig extends ProtocolError {
  constructor(message: string) {
    super(message, 1009, 'WS_PAYLOAD_TOO_BIG');
  }
}

/** The operation is not allowed in the connection's current state. */
export class InvalidState extends WebSocketError {
  constructor(message: string) {
    super(message, 'WS_INVALID_STATE');
  }
}

/** An open, close or ping deadline passed. */
export class TimeoutError extends WebSocketError {
  constructor(message: string) {
    super(message, 'WS_TIMEOUT');
  }
}
