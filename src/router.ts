/**
 * Routing by path: patterns such as `/light/{status}`, `/rooms/{room}/chat`,
 * `/items/{id:int}` or `/files/{rest:path}` compiled into a segment trie, so a
 * lookup costs one map probe per path segment however many routes there are.
 *
 * Matching rules (decided here, documented in the README):
 * - The path is split on `/` *before* percent-decoding, then each segment is
 *   decoded; so `/rooms/a%2Fb/chat` gives `room = 'a/b'` and a literal segment
 *   may be written decoded (`/caf%C3%A9` matches the pattern `/café`). A
 *   segment that is not valid percent-encoding matches nothing (404).
 * - Trailing slashes are significant: `/light/on/` does not match
 *   `/light/{status}` (a WebSocket handshake cannot be redirected).
 * - A parameter matches one non-empty segment; `{id:int}` only ASCII digits;
 *   `{rest:path}` (last segment of a pattern only) matches the remaining
 *   segments, possibly none, joined with `/`.
 * - Literal segments win over typed parameters, typed over plain ones, and
 *   those over `path` wildcards; a failed branch falls back to the next one.
 */
import type { Connection } from './node/connection.js';
import { isCallbackHandlers } from './node/callbacks.js';
import type { Handler, RouteMatch, ServerHandler } from './node/server.js';
import type { RequestInfo } from './node/types.js';

/** The segment types a parameter may declare: `{name}` is `str`. */
export type ParamType = 'str' | 'int' | 'path';

/**
 * Routes: `{ '/light/{status}': handler }` or a list of `[pattern, handler]` pairs; a handler is a function or an
 * object of callbacks (`{ open, message, close, drain }`, which needs the router as the `route` option).
 */
export type Routes = Record<string, ServerHandler> | Iterable<readonly [string, ServerHandler]>;

/**
 * A compiled set of routes. It is a function from a request to a match, so it
 * can be passed as the `route` option of `serve()`/`attach()` (a miss is a 404
 * during the handshake); `handler` dispatches by path for servers run without
 * that option.
 */
export interface Router {
  /** Looks up the request's path (the `route` option of `serve`). */
  (request: Pick<RequestInfo, 'path'>): RouteMatch | null;
  /** Looks up a raw (still percent-encoded) path without a query. */
  match(path: string): RouteMatch | null;
  /** Adds a route; throws on a malformed pattern or one that is already taken. */
  add(pattern: string, handler: ServerHandler): this;
  /**
   * A connection handler that dispatches by path; an unmatched path is closed with 1008 (prefer the `route` option:
   * 404). Routes of callbacks are served only through the `route` option (a connection is in one mode from its start).
   */
  readonly handler: Handler;
  /** The patterns added, in order. */
  readonly patterns: readonly string[];
}

interface Leaf {
  handler: ServerHandler;
  names: string[];
  pattern: string;
}

interface ParamEdge {
  type: 'str' | 'int';
  node: TrieNode;
}

class TrieNode {
  readonly literals = new Map<string, TrieNode>();
  /** int edge first, then str: tried in this order. */
  readonly params: ParamEdge[] = [];
  leaf: Leaf | null = null;
  /** A `{name:path}` wildcard ending here. */
  rest: Leaf | null = null;

  param(type: 'str' | 'int'): TrieNode {
    let edge = this.params.find((e) => e.type === type);
    if (edge === undefined) {
      edge = { type, node: new TrieNode() };
      this.params.push(edge);
      this.params.sort((a, b) => (a.type === b.type ? 0 : a.type === 'int' ? -1 : 1));
    }
    return edge.node;
  }
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)(?::(str|int|path))?\}$/;
const DIGITS = /^[0-9]+$/;

type Token = { kind: 'literal'; value: string } | { kind: 'param'; name: string; type: ParamType };

function parsePattern(pattern: string): Token[] {
  if (!pattern.startsWith('/')) throw new SyntaxError(`route pattern must start with '/': ${pattern}`);
  const tokens: Token[] = [];
  const segments = pattern.slice(1).split('/');
  const seen = new Set<string>();
  segments.forEach((segment, index) => {
    const param = PARAM.exec(segment);
    if (param === null) {
      if (segment.includes('{') || segment.includes('}')) {
        throw new SyntaxError(`malformed parameter in route pattern ${pattern}: '${segment}' (use {name}, {name:int} or {name:path})`);
      }
      tokens.push({ kind: 'literal', value: segment });
      return;
    }
    const name = param[1]!;
    const type = (param[2] ?? 'str') as ParamType;
    if (seen.has(name)) throw new SyntaxError(`duplicate parameter '${name}' in route pattern ${pattern}`);
    seen.add(name);
    if (type === 'path' && index !== segments.length - 1) {
      throw new SyntaxError(`a {${name}:path} parameter must be the last segment of ${pattern}`);
    }
    tokens.push({ kind: 'param', name, type });
  });
  return tokens;
}

function decodeSegment(segment: string): string | null {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function lookup(node: TrieNode, segments: string[], at: number, values: string[]): Leaf | null {
  if (at === segments.length) {
    if (node.leaf !== null) return node.leaf;
    if (node.rest !== null) {
      values.push('');
      return node.rest;
    }
    return null;
  }
  const segment = segments[at]!;
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = lookup(literal, segments, at + 1, values);
    if (found !== null) return found;
  }
  if (segment !== '') {
    for (const edge of node.params) {
      if (edge.type === 'int' && !DIGITS.test(segment)) continue;
      values.push(segment);
      const found = lookup(edge.node, segments, at + 1, values);
      if (found !== null) return found;
      values.pop();
    }
  }
  if (node.rest !== null) {
    values.push(segments.slice(at).join('/'));
    return node.rest;
  }
  return null;
}

/**
 * Compiles routes into a {@link Router}.
 *
 * ```ts
 * const routes = router({ '/light/{status}': light, '/rooms/{room}/chat': chat });
 * await serve(routes.handler, { route: routes });
 * ```
 */
export function router(routes: Routes = {}): Router {
  const root = new TrieNode();
  const patterns: string[] = [];

  const match = (path: string): RouteMatch | null => {
    if (!path.startsWith('/')) return null;
    const raw = path.slice(1).split('/');
    const segments: string[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const decoded = decodeSegment(raw[i]!);
      if (decoded === null) return null;
      segments[i] = decoded;
    }
    const values: string[] = [];
    const leaf = lookup(root, segments, 0, values);
    if (leaf === null) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < leaf.names.length; i++) params[leaf.names[i]!] = values[i]!;
    return { handler: leaf.handler, params, pattern: leaf.pattern };
  };

  const route = ((request: Pick<RequestInfo, 'path'>) => match(request.path)) as Router;

  const add = (pattern: string, handler: ServerHandler): Router => {
    const tokens = parsePattern(pattern);
    let node = root;
    const names: string[] = [];
    let wildcard = false;
    for (const token of tokens) {
      if (token.kind === 'literal') {
        let next = node.literals.get(token.value);
        if (next === undefined) node.literals.set(token.value, (next = new TrieNode()));
        node = next;
      } else if (token.type === 'path') {
        names.push(token.name);
        wildcard = true;
      } else {
        names.push(token.name);
        node = node.param(token.type);
      }
    }
    const leaf: Leaf = { handler, names, pattern };
    const slot = wildcard ? 'rest' : 'leaf';
    const taken = node[slot];
    if (taken !== null) throw new Error(`route ${pattern} conflicts with ${taken.pattern}`);
    node[slot] = leaf;
    patterns.push(pattern);
    return route;
  };

  const handler: Handler = (ws: Connection) => {
    const found = ws.request ? match(ws.request.path) : null;
    if (found === null) return void ws.close(1008, 'no route for this path');
    ws.params = found.params;
    if (isCallbackHandlers(found.handler)) {
      // Reported as a handler failure (logged, 1011): the server was set up wrongly, not the client.
      throw new TypeError(`route ${found.pattern ?? ws.request?.path} has callbacks: pass the router as the route option of serve()/attach()`);
    }
    return found.handler(ws);
  };

  Object.defineProperties(route, {
    match: { value: match },
    add: { value: add },
    handler: { value: handler },
    patterns: { get: () => patterns as readonly string[] },
  });
  const entries: Iterable<readonly [string, ServerHandler]> =
    Symbol.iterator in routes ? (routes as Iterable<readonly [string, ServerHandler]>) : Object.entries(routes);
  for (const [pattern, h] of entries) add(pattern, h);
  return route;
}
