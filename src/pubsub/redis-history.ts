/**
 * Topic history in Redis Streams, shared by every server node: any node can serve a resume for a topic published on
 * another one, and a node that restarts loses nothing Redis kept.
 *
 * Per topic `t`, with the key prefix `p` (hash tags keep a topic's keys in one Redis Cluster slot):
 * - `p:{t}:m`, a hash: `e` the epoch, `o` the last offset. Created with a new epoch when missing, so losing it
 *   (Redis restarted without persistence, or the hash expired after `metaTtl` without use) changes the epoch.
 * - `p:{t}:s`, a stream: one entry per publication with the ID `<offset>-0` (so a resume reads
 *   `XRANGE p:{t}:s <since+1>-0 + COUNT n`), fields `d` payload, `b` 1 for bytes, `t` time in ms. Trimmed at each
 *   append by `XADD ... MAXLEN size` and by `XTRIM ... MINID` past the publications older than `ttl`.
 * - `p:{t}:k:<key>`: the position of a keyed publication, for `dedupWindow` ms.
 * - the pub/sub channel `p:c:t`: each publication as `<offset> <epoch> <0|1> <payload>`.
 *
 * Appending is one Lua script (offset, XADD, trimming, dedup, PUBLISH), so offsets, the stream and the live
 * messages are in the same order on every node.
 */
import { historyLimits, checkTopic, newEpoch, type Appended, type HistoryLimits, type HistoryRead, type Publication, type StreamPosition, type TopicHistory } from './history.js';
import { checkNumber } from '../node/options.js';
import { RedisPubSub, type RedisClientLike, type RedisConnectionOptions } from './redis-connection.js';

/** Options of {@link redisHistory}. */
export interface RedisHistoryOptions extends HistoryLimits, RedisConnectionOptions {
  /** Prefix of the Redis keys and channels. Nodes share topics when they share it. Default `'wskit'`. */
  prefix?: string;
  /** How long a topic's epoch and offset are kept after its last use, in ms (at least `ttl`). Default 7 days. */
  metaTtl?: number;
}

/** A Redis history, with its connection state. */
export interface RedisHistory extends TopicHistory {
  /** Whether both Redis connections are up. */
  readonly ready: boolean;
}

const DEFAULT_META_TTL = 7 * 24 * 3600 * 1000;

// KEYS: stream, meta[, dedup key]. ARGV: payload, binary flag, new epoch, size, ttl, metaTtl, dedupWindow, channel.
const APPEND = `
local stream, meta = KEYS[1], KEYS[2]
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch, 'o', 0)
end
if KEYS[3] then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local at = string.find(seen, ' ', 1, true)
    return {tonumber(string.sub(seen, 1, at - 1)), string.sub(seen, at + 1), 1}
  end
end
local offset = redis.call('HINCRBY', meta, 'o', 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('XADD', stream, 'MAXLEN', ARGV[4], offset .. '-0', 'd', ARGV[1], 'b', ARGV[2], 't', now)
local cutoff = now - tonumber(ARGV[5])
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
if #first > 0 and tonumber(first[1][2][6]) < cutoff then
  local batch = redis.call('XRANGE', stream, '-', '+', 'COUNT', 100)
  local keep = nil
  for _, entry in ipairs(batch) do
    if tonumber(entry[2][6]) >= cutoff then keep = entry[1] break end
  end
  if not keep then
    local last = batch[#batch][1]
    keep = (tonumber(string.sub(last, 1, string.find(last, '-', 1, true) - 1)) + 1) .. '-0'
  end
  redis.call('XTRIM', stream, 'MINID', keep)
end
redis.call('PEXPIRE', stream, ARGV[5])
redis.call('PEXPIRE', meta, ARGV[6])
if KEYS[3] then redis.call('SET', KEYS[3], offset .. ' ' .. epoch, 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[8], offset .. ' ' .. epoch .. ' ' .. ARGV[2] .. ' ' .. ARGV[1])
return {offset, epoch, 0}
`;

// KEYS: stream, meta. ARGV: since offset ('' for none), since epoch, limit, new epoch, ttl, metaTtl.
const READ = `
local stream, meta = KEYS[1], KEYS[2]
local epoch = redis.call('HGET', meta, 'e')
local top = tonumber(redis.call('HGET', meta, 'o') or '0')
if not epoch then
  epoch = ARGV[4]
  top = 0
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch, 'o', 0)
end
redis.call('PEXPIRE', meta, ARGV[6])
if ARGV[1] == '' then return {epoch, top, 1, {}} end
local since = tonumber(ARGV[1])
if ARGV[2] ~= epoch or since > top then return {epoch, top, 0, {}} end
if since == top then return {epoch, top, 1, {}} end
local entries = redis.call('XRANGE', stream, (since + 1) .. '-0', '+', 'COUNT', ARGV[3])
if #entries == 0 then return {epoch, top, 0, {}} end
local id = entries[1][1]
if tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1)) ~= since + 1 then return {epoch, top, 0, {}} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if tonumber(entries[1][2][6]) < now - tonumber(ARGV[5]) then return {epoch, top, 0, {}} end
return {epoch, top, 1, entries}
`;

/** The commands the scripts add to the ioredis client (`defineCommand`). */
interface ScriptedClient extends RedisClientLike {
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
  wskitAppend(...args: Array<string | Buffer | number>): Promise<[number, string, number]>;
  wskitReadBuffer(...args: Array<string | Buffer | number>): Promise<[Buffer, number, number, Array<[Buffer, Buffer[]]>]>;
}

/**
 * A {@link TopicHistory} in Redis Streams, for servers in several processes or hosts:
 * `topicServer({ history: redisHistory({ url: 'redis://127.0.0.1:6379' }) })`. Run Redis with persistence
 * (`appendonly yes`) for the history to survive a Redis restart; without it a restart changes every epoch.
 */
export function redisHistory(options: RedisHistoryOptions = {}): RedisHistory {
  const limits = historyLimits(options, 'redisHistory');
  const metaTtl = checkNumber('redisHistory.metaTtl', options.metaTtl ?? Math.max(DEFAULT_META_TTL, limits.ttl), { integer: true, min: limits.ttl });
  const prefix = options.prefix ?? 'wskit';
  const channelPrefix = `${prefix}:c:`;
  const redis = new RedisPubSub(options, 'Redis history', 'redisHistory()');
  const keyOf = (topic: string, suffix: string): string => `${prefix}:{${topic}}:${suffix}`;

  const client = (): ScriptedClient => {
    const pub = redis.pub as ScriptedClient | null;
    if (pub === null) throw new Error('wskit: redisHistory() is not started');
    return pub;
  };

  return {
    get ready() {
      return redis.ready;
    },
    async start(deliver, resync) {
      await redis.start(
        (channel, bytes) => {
          const name = channel.toString();
          if (!name.startsWith(channelPrefix)) return;
          const publication = parseLive(name.slice(channelPrefix.length), bytes);
          if (publication !== null) deliver(publication);
        },
        () => {
          for (const channel of redis.followed) resync?.(channel.slice(channelPrefix.length));
        },
      );
      const pub = client();
      pub.defineCommand('wskitAppend', { lua: APPEND });
      pub.defineCommand('wskitRead', { numberOfKeys: 2, lua: READ });
    },
    async append(topic, data, key): Promise<Appended> {
      checkTopic(topic);
      const binary = typeof data !== 'string';
      const keys = [keyOf(topic, 's'), keyOf(topic, 'm')];
      if (key !== undefined) keys.push(keyOf(topic, `k:${key}`));
      const [offset, epoch, duplicate] = await client().wskitAppend(
        keys.length,
        ...keys,
        data,
        binary ? '1' : '0',
        newEpoch(),
        limits.size,
        limits.ttl,
        metaTtl,
        limits.dedupWindow,
        channelPrefix + topic,
      );
      return { offset, epoch, duplicate: duplicate === 1 };
    },
    async read(topic, since: StreamPosition | null, limit): Promise<HistoryRead> {
      checkTopic(topic);
      const [epochBytes, offset, recovered, entries] = await client().wskitReadBuffer(
        keyOf(topic, 's'),
        keyOf(topic, 'm'),
        since === null ? '' : String(since.offset),
        since === null ? '' : since.epoch,
        limit,
        newEpoch(),
        limits.ttl,
        metaTtl,
      );
      const epoch = epochBytes.toString();
      const publications = entries.map(([id, fields]): Publication => {
        const text = id.toString();
        const binary = fields[3]!.toString() === '1';
        return { topic, offset: Number(text.slice(0, text.indexOf('-'))), epoch, data: binary ? fields[1]! : fields[1]!.toString() };
      });
      return { epoch, offset, recovered: recovered === 1, publications };
    },
    follow(topic) {
      return redis.follow(channelPrefix + topic);
    },
    unfollow(topic) {
      redis.unfollow(channelPrefix + topic);
    },
    close() {
      return redis.close();
    },
  };
}

/** Parses a live message `<offset> <epoch> <0|1> <payload>`; null if it is not one. */
function parseLive(topic: string, bytes: Buffer): Publication | null {
  const first = bytes.indexOf(0x20);
  const second = first < 0 ? -1 : bytes.indexOf(0x20, first + 1);
  if (second < 0 || bytes.length < second + 3 || bytes[second + 2] !== 0x20) return null;
  const offset = Number(bytes.toString('latin1', 0, first));
  if (!Number.isSafeInteger(offset) || offset < 1) return null;
  const payload = bytes.subarray(second + 3);
  return { topic, offset, epoch: bytes.toString('latin1', first + 1, second), data: bytes[second + 1] === 0x31 ? payload : payload.toString() };
}
