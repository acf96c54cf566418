/**
 * `wskit serve --topics`: the `wskit.topics.v1` subprotocol (docs/topics-protocol.md) for any client, with the
 * topic history in memory (one process) or, with `--redis`, in Redis Streams (any node serves a resume).
 */
import type { Handler } from '../node/server.js';
import { HISTORY_DEFAULTS } from '../pubsub/history.js';
import { memoryHistory } from '../pubsub/memory-history.js';
import { redisHistory } from '../pubsub/redis-history.js';
import { topicServer, type TopicServer } from '../pubsub/topic-server.js';
import { TOPICS_PROTOCOL } from '../client/topics-wire.js';
import { COUNT, SECONDS, UsageError, numberFlag } from './args.js';

/** The flags of the topics mode, for `parseOptions`. */
export const TOPIC_SERVE_FLAGS = {
  topics: { type: 'boolean' },
  'history-size': { type: 'string' },
  'history-age': { type: 'string' },
  'allow-publish': { type: 'string', multiple: true },
} as const;

/** The help lines of the topics mode. */
export const TOPIC_SERVE_HELP = `      --topics           speak the ${TOPICS_PROTOCOL} subprotocol (docs/topics-protocol.md):
                         clients subscribe to topics themselves, get every
                         publication with its offset, and resume after a
                         reconnection from the history; with --redis the history
                         is in Redis Streams, shared by every node
      --history-size N   with --topics: publications kept per topic
                         (default ${HISTORY_DEFAULTS.size})
      --history-age S    with --topics: seconds a publication is kept
                         (default ${HISTORY_DEFAULTS.ttl / 1000})
      --allow-publish [GLOB]
                         with --topics: clients may publish to the topics
                         matching GLOB ('*' any characters, '?' one;
                         repeatable); alone: to every topic. Default: nobody`;

/** Parsed values of {@link TOPIC_SERVE_FLAGS}. */
export interface TopicServeValues {
  topics?: boolean;
  'history-size'?: string;
  'history-age'?: string;
  'allow-publish'?: string[];
}

/** A bare `--allow-publish` (last, or followed by another flag) means every topic: `parseArgs` has no optional values. */
export function expandBareAllowPublish(args: string[]): string[] {
  return args.flatMap((arg, i) => (arg === '--allow-publish' && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? [arg, '*'] : [arg]));
}

/** Checks that the topic flags go with `--topics`; throws UsageError naming the first one that does not. */
export function checkTopicFlags(values: TopicServeValues): void {
  if (values.topics === true) return;
  for (const flag of ['history-size', 'history-age', 'allow-publish'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --topics`);
  }
}

/** A matcher of topics against globs: `*` any run of characters (slashes included), `?` one character. */
export function topicGlob(patterns: string[]): (topic: string) => boolean {
  const sources = patterns.map((pattern) => {
    if (pattern === '') throw new UsageError('--allow-publish needs a topic or a glob');
    return pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  });
  const pattern = new RegExp(`^(?:${sources.join('|')})$`, 's');
  return (topic) => pattern.test(topic);
}

/** The topics mode of `wskit serve`: its server, handler, subprotocol and a description for the banner. */
export interface TopicMode {
  /** The topic server (started). */
  server: TopicServer;
  /** The connection handler. */
  handler: Handler;
  /** What the banner says. */
  description: string;
}

/** Builds and starts the topic server the flags describe; rejects (one line) when Redis cannot be reached. */
export async function startTopicMode(values: TopicServeValues, redisUrl: string | undefined, logger: Pick<Console, 'error'>): Promise<TopicMode> {
  const size = numberFlag('--history-size', values['history-size'], COUNT);
  const age = numberFlag('--history-age', values['history-age'], { ...SECONDS, positive: true });
  const limits = { size, ttl: age === undefined ? undefined : Math.max(1, Math.round(age * 1000)) };
  const globs = values['allow-publish'];
  const publish = globs === undefined ? false : globs.includes('*') ? true : topicGlob(globs);
  const history = redisUrl === undefined ? memoryHistory(limits) : redisHistory({ ...limits, url: redisUrl, logger });
  const server = topicServer({ history, publish: publish === false || publish === true ? publish : (topic) => publish(topic), logger });
  try {
    await server.start();
  } catch (error) {
    await server.close().catch(() => undefined);
    throw new Error((error as Error).message.replace(/^wskit: /, ''));
  }
  const where = redisUrl === undefined ? 'history in memory' : `history in Redis Streams at ${redisUrl}`;
  const who = globs === undefined ? 'publish: nobody' : `publish: ${globs.join(', ')}`;
  return { server, handler: server.handler, description: `topics, ${where}, ${who}` };
}

/** The subprotocol a topics server selects. */
export const TOPIC_SUBPROTOCOLS = [TOPICS_PROTOCOL];
