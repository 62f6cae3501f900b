// The Redis backend's operations as Lua scripts: each checks, assigns the tenant's next seq,
// applies, evicts and appends its change record to the tenant's stream in one atomic step, so
// instances writing at once can never interleave halfway and eviction stays exact.
//
// Every script takes the same nine names (eight keys and a channel) of one tenant (one hash slot, see redis-keys.ts):
//   state   hash  seq, tokens                the tenant's sequence and token total
//   meta    hash  key -> JSON meta           s seq, t tokens, p priority, v version, o owner,
//                                            src source, x expiry ms; oj/srcj/tsj/xj: the owner,
//                                            source, timestamp and expiry as JSON text, made by
//                                            the caller so entry JSON is byte-identical to JS's
//   content hash  key -> content JSON
//   rank    zset  key scored priority*2^48 + seq: ZRANGE 0 0 is the entry that ranks last
//   ttl     zset  key scored expiry ms
//   stream  stream  one record per change, id "<seq>-0": field h (header JSON, with the change's
//                   actor as `a`), then 1, 2, ... (the JSON of each upserted entry, in order)
//   idem    hash  [user, key] JSON -> {p fingerprint, x expiry ms, r reply JSON}: kept replies
//   idemord zset  the same fields scored by expiry, for expiry and the per-tenant cap
//   wake    channel (sharded pub/sub, KEYS[9]) the seq of each change, after its record is added
//
// Every script takes, after its own arguments, the same six (the tail, see PRELUDE): now ms, max
// tokens, stream length (records kept; LOAD: records read), history bytes (MCP_HISTORY_BYTES), a
// fresh epoch, which becomes the tenant's epoch when it has none (its history starts here), and
// the audit argument, JSON: {a = the actor of the operation's change, i = {f field, p fingerprint,
// x expiry ms, n now ms, c cap} when the request has an idempotency key}. A request whose key is
// held gets {3, reply JSON} (a replay) or a refusal instead of running.
// The epoch lives in the state hash beside seq, so the two are lost or reset together.
//
// Before anything else a changing script expires the entries whose TTL has passed (as its own
// change, the one before the operation's), so a write never sees an expired entry: the same
// order of events as the memory backend.
//
// Replies: {1, seq, header, written-entry JSON or '', entry JSON...} for a change; {0, code,
// detail} for a refusal (nothing changed but due expiries); {2, seq} when there was nothing to do;
// {3, reply JSON} for a replay (nothing changed).

const PRELUDE = `
local STATE, META, CONTENT, RANK, TTL, STREAM = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local IDEM, IDEM_ORDER, WAKE = KEYS[7], KEYS[8], KEYS[9]
local SCORE_BASE = 281474976710656
local TAIL = #ARGV - 6
local AUDIT = cjson.decode(ARGV[TAIL + 6])
local NOW, MAX_TOKENS, STREAM_LEN = tonumber(ARGV[TAIL + 1]), tonumber(ARGV[TAIL + 2]), tonumber(ARGV[TAIL + 3])
local HISTORY_BYTES, FRESH_EPOCH = tonumber(ARGV[TAIL + 4]), ARGV[TAIL + 5]
-- As changeBytes (change-history.ts) counts a change besides its entries.
local CHANGE_OVERHEAD = 64

local function int (n) return string.format('%d', n) end

local function entry_json (m, content)
  local j = '{"timestamp":' .. m.tsj .. ',"content":' .. content .. ',"tokens":' .. int(m.t) ..
    ',"source":' .. m.srcj .. ',"priority":' .. int(m.p) .. ',"owner":' .. m.oj .. ',"version":' .. int(m.v)
  if m.xj then j = j .. ',"expires_at":' .. m.xj end
  return j .. '}'
end

local function drop (key)
  redis.call('HDEL', META, key)
  redis.call('HDEL', CONTENT, key)
  redis.call('ZREM', RANK, key)
  redis.call('ZREM', TTL, key)
end

-- The tenant's epoch; a tenant without one starts a new history now (a new tenant, or a Redis
-- that lost or reset its state): any records left in its stream belong to another history.
local function history_epoch ()
  local epoch = redis.call('HGET', STATE, 'epoch')
  if epoch then return epoch end
  if not redis.call('HGET', STATE, 'seq') then redis.call('DEL', STREAM) end
  redis.call('HSET', STATE, 'epoch', FRESH_EPOCH)
  redis.call('HSET', STATE, 'hbytes', 0)
  return FRESH_EPOCH
end

local function next_seq () history_epoch() return redis.call('HINCRBY', STATE, 'seq', 1) end

-- Whether the stream holds more than it may: over STREAM_LEN records or HISTORY_BYTES bytes, but
-- never counting the newest alone (other instances read every change from the stream).
local function over (len, bytes) return len > 1 and (len > STREAM_LEN or bytes > HISTORY_BYTES) end

-- Counts a record just added (of size added) and drops the oldest records while over the bounds.
-- A full stream drops about one record per change: each XRANGE record read is copied into Lua with
-- all its fields (the entries' JSON), so the batch starts at what the count bound alone asks for
-- plus the first record kept, and doubles while the bytes bound asks for more (a fixed 64 made
-- every write into a full stream read 64 records to drop one: half of the script's time).
local function trim_stream (added)
  local bytes = tonumber(redis.call('HINCRBY', STATE, 'hbytes', added))
  local len = redis.call('XLEN', STREAM)
  local cursor, first_kept = '-', nil
  local batch = math.min(math.max(len - STREAM_LEN + 1, 2), 64)
  while over(len, bytes) do
    for _, record in ipairs(redis.call('XRANGE', STREAM, cursor, '+', 'COUNT', batch)) do
      if not over(len, bytes) then first_kept = record[1] break end
      local fields, size = record[2], CHANGE_OVERHEAD
      for i = 2, #fields, 2 do size = size + #fields[i] end
      bytes, len, cursor = bytes - size, len - 1, '(' .. record[1]
    end
    batch = math.min(batch * 2, 64)
  end
  if cursor ~= '-' then
    first_kept = first_kept or redis.call('XRANGE', STREAM, cursor, '+', 'COUNT', 1)[1][1]
    redis.call('XTRIM', STREAM, 'MINID', first_kept)
  end
  -- A stream older than this count (written before it existed) may hold more than was counted.
  if bytes < 0 then bytes = 0 end
  redis.call('HSET', STATE, 'hbytes', bytes)
end

-- What answers the request instead of running it when its idempotency key is held: its first
-- reply (a replay) or, for a different request under the key, a refusal. nil: run the request.
local function idem_check ()
  local i = AUDIT.i
  if not i then return nil end
  local raw = redis.call('HGET', IDEM, i.f)
  if not raw then return nil end
  local held = cjson.decode(raw)
  if held.x <= i.n then return nil end
  if held.p ~= i.p then return { 0, 'idempotency_key_reused', '' } end
  return { 3, held.r }
end

-- Keeps the request's reply under its key, in the same script as its change; then drops expired
-- replies and, beyond the tenant's cap, the oldest.
local function idem_keep (reply)
  local i = AUDIT.i
  if not i then return end
  redis.call('HSET', IDEM, i.f, cjson.encode({ p = i.p, x = i.x, r = cjson.encode(reply) }))
  redis.call('ZADD', IDEM_ORDER, i.x, i.f)
  local expired = redis.call('ZRANGEBYSCORE', IDEM_ORDER, '-inf', i.n, 'LIMIT', 0, 100)
  for _, f in ipairs(expired) do
    redis.call('HDEL', IDEM, f)
    redis.call('ZREM', IDEM_ORDER, f)
  end
  local over = redis.call('ZCARD', IDEM_ORDER) - i.c
  if over > 0 then
    for _, f in ipairs(redis.call('ZRANGE', IDEM_ORDER, 0, over - 1)) do redis.call('HDEL', IDEM, f) end
    redis.call('ZREMRANGEBYRANK', IDEM_ORDER, 0, over - 1)
  end
end

-- Appends the change to the stream and returns the script's reply. upserts: {key, meta, json}.
-- An expiry is the system's doing, whoever's request found it due (stamped with this instance).
local function emit (seq, reason, at, upserts, removed, total, written)
  local u = {}
  for i, up in ipairs(upserts) do u[i] = { up[1], up[2].s, up[2].x or 0 } end
  local actor = AUDIT.a
  if reason == 'expired' then actor = { sub = 'system', surface = 'system', instance = actor.instance } end
  local header = cjson.encode({ r = reason, at = at, e = history_epoch(), u = u, d = removed,
    m = { total, MAX_TOKENS, redis.call('HLEN', META) }, a = actor })
  local fields = { 'h', header }
  local reply = { 1, seq, header, written or '' }
  local size = #header
  for i, up in ipairs(upserts) do
    fields[#fields + 1] = tostring(i)
    fields[#fields + 1] = up[3]
    reply[#reply + 1] = up[3]
    size = size + #up[3]
  end
  redis.call('XADD', STREAM, int(seq) .. '-0', unpack(fields))
  trim_stream(CHANGE_OVERHEAD + size)
  -- Wakes the instances following the tenant; one that misses it reads the stream on reconnect.
  redis.call('SPUBLISH', WAKE, int(seq))
  return reply
end

local function tokens_total () return tonumber(redis.call('HGET', STATE, 'tokens') or '0') end
local function current_seq () return tonumber(redis.call('HGET', STATE, 'seq') or '0') end

-- Removes every entry whose TTL has passed as one 'expired' change; its reply, or nil.
local function expire_due (at)
  local due = redis.call('ZRANGEBYSCORE', TTL, '-inf', NOW)
  if #due == 0 then return nil end
  local removed, total = {}, tokens_total()
  for _, key in ipairs(due) do
    local raw = redis.call('HGET', META, key)
    if raw then
      total = total - cjson.decode(raw).t
      removed[#removed + 1] = { key, 'expired' }
    end
    drop(key)
  end
  if #removed == 0 then return nil end
  local seq = next_seq()
  redis.call('HSET', STATE, 'tokens', total)
  return emit(seq, 'expired', at, {}, removed, total)
end

-- The stored meta of an entry the caller may change, or nil and the refusal (as TenantStore checks:
-- missing, then role, then ownership).
local function changeable (key, can_write, admin, user)
  local raw = redis.call('HGET', META, key)
  if not raw then return nil, 'not_found' end
  if can_write ~= '1' then return nil, 'forbidden_role' end
  local m = cjson.decode(raw)
  if admin ~= '1' and m.o ~= user then return nil, 'forbidden_owner' end
  return m
end
`

/**
 * ARGV: key, content JSON, tokens, priority or '' (keep the entry's, else 1), owner, owner JSON,
 * source and source JSON or '' (keep the entry's, else the owner), timestamp,
 * expiry ms or '', expiry JSON or '', admin '1'/'0', expected version or '', must-create '1'/'0'.
 */
const WRITE = PRELUDE + `
local replay = idem_check()
if replay then return replay end
local key, content = ARGV[1], ARGV[2]
-- An entry past its TTL is absent for this write (another user may take its key).
expire_due(ARGV[9])
local raw = redis.call('HGET', META, key)
local existing = raw and cjson.decode(raw)
if existing and ARGV[14] == '1' then return { 0, 'key_exists', '' } end
if existing and ARGV[12] ~= '1' and existing.o ~= ARGV[5] then return { 0, 'forbidden_owner', '' } end
if ARGV[13] ~= '' then
  local actual = existing and existing.v or 0
  if actual ~= tonumber(ARGV[13]) then return { 0, 'version_conflict', int(actual) } end
end
local max_tokens = MAX_TOKENS
local seq = next_seq()
local p = tonumber(ARGV[4]) or (existing and existing.p) or 1
local src, srcj = ARGV[7], ARGV[8]
if src == '' then
  if existing then src, srcj = existing.src, existing.srcj else src, srcj = ARGV[5], ARGV[6] end
end
local m = { s = seq, t = tonumber(ARGV[3]), p = p, v = (existing and existing.v or 0) + 1,
  o = ARGV[5], oj = ARGV[6], src = src, srcj = srcj, tsj = '"' .. ARGV[9] .. '"' }
if ARGV[10] ~= '' then m.x = tonumber(ARGV[10]); m.xj = ARGV[11] end

local total = tokens_total() + m.t
if existing then total = total - existing.t end
redis.call('ZADD', RANK, m.p * SCORE_BASE + seq, key)

-- Evict what ranks last (the new entry included) until the budget holds.
local removed, self_evicted = {}, false
while total > max_tokens do
  local victim = redis.call('ZRANGE', RANK, 0, 0)[1]
  if victim == key then
    self_evicted = true
    total = total - m.t
    redis.call('ZREM', RANK, key)
  else
    total = total - cjson.decode(redis.call('HGET', META, victim)).t
    drop(victim)
  end
  removed[#removed + 1] = { victim, 'evicted' }
end

local json = entry_json(m, content)
local upserts = {}
if self_evicted then
  drop(key)
else
  redis.call('HSET', META, key, cjson.encode(m))
  redis.call('HSET', CONTENT, key, content)
  if m.x then redis.call('ZADD', TTL, m.x, key) else redis.call('ZREM', TTL, key) end
  upserts[1] = { key, m, json }
end
redis.call('HSET', STATE, 'tokens', total)
local evicted = {}
for i, r in ipairs(removed) do evicted[i] = r[1] end
idem_keep({ key = key, tokens = m.t, version = m.v, seq = seq, epoch = history_epoch(), evicted = evicted, stored = not self_evicted })
return emit(seq, existing and 'replaced' or 'created', ARGV[9], upserts, removed, total, json)
`

/** ARGV: key, priority, user, admin '1'/'0', can-write '1'/'0', timestamp. */
const SET_PRIORITY = PRELUDE + `
local replay = idem_check()
if replay then return replay end
local key = ARGV[1]
expire_due(ARGV[6])
local m, refusal = changeable(key, ARGV[5], ARGV[4], ARGV[3])
if not m then return { 0, refusal, '' } end
local seq = next_seq()
m.s = seq
m.p = tonumber(ARGV[2])
m.v = m.v + 1
m.tsj = '"' .. ARGV[6] .. '"'
redis.call('HSET', META, key, cjson.encode(m))
redis.call('ZADD', RANK, m.p * SCORE_BASE + seq, key)
local json = entry_json(m, redis.call('HGET', CONTENT, key))
-- The token total does not change, so a priority change never evicts.
idem_keep({ key = key, priority = m.p, version = m.v, seq = seq })
return emit(seq, 'priority', ARGV[6], { { key, m, json } }, {}, tokens_total(), json)
`

/** ARGV: key, user, admin '1'/'0', can-write '1'/'0', timestamp. */
const REMOVE = PRELUDE + `
local replay = idem_check()
if replay then return replay end
local key = ARGV[1]
expire_due(ARGV[5])
local m, refusal = changeable(key, ARGV[4], ARGV[3], ARGV[2])
if not m then return { 0, refusal, '' } end
local seq = next_seq()
drop(key)
local total = tokens_total() - m.t
redis.call('HSET', STATE, 'tokens', total)
idem_keep({ key = key, seq = seq })
return emit(seq, 'deleted', ARGV[5], {}, { { key, 'deleted' } }, total)
`

/**
 * ARGV: user, any-owner '1'/'0', source prefix or '', keys as a JSON array or '', timestamp.
 * Same rules as TenantStore.clear: without any-owner only the
 * caller's entries go, and naming someone else's key refuses the whole clear.
 */
const CLEAR = PRELUDE + `
local replay = idem_check()
if replay then return replay end
local user, any_owner, prefix = ARGV[1], ARGV[2] == '1', ARGV[3]
expire_due(ARGV[5])
local candidates = {}
if ARGV[4] ~= '' then
  -- A key named twice is one candidate: dropping it twice would subtract its tokens twice.
  local seen = {}
  for _, key in ipairs(cjson.decode(ARGV[4])) do
    local raw = not seen[key] and redis.call('HGET', META, key)
    seen[key] = true
    if raw then candidates[#candidates + 1] = { key, cjson.decode(raw) } end
  end
else
  local all = redis.call('HGETALL', META)
  for i = 1, #all, 2 do candidates[#candidates + 1] = { all[i], cjson.decode(all[i + 1]) } end
end
local chosen = {}
for _, c in ipairs(candidates) do
  local m = c[2]
  if string.sub(m.src, 1, #prefix) == prefix then
    if any_owner or m.o == user then
      chosen[#chosen + 1] = c
    elseif ARGV[4] ~= '' then
      return { 0, 'forbidden_owner', c[1] }
    end
  end
end
if #chosen == 0 then
  idem_keep({ removed = {}, count = 0, seq = current_seq() })
  return { 2, current_seq() }
end
-- Oldest write first, as the memory backend lists them (hash order is arbitrary).
if ARGV[4] == '' then table.sort(chosen, function (x, y) return x[2].s < y[2].s end) end
local seq = next_seq()
local total = tokens_total()
local removed = {}
for i, c in ipairs(chosen) do
  drop(c[1])
  total = total - c[2].t
  removed[i] = { c[1], 'cleared' }
end
redis.call('HSET', STATE, 'tokens', total)
local keys = {}
for i, r in ipairs(removed) do keys[i] = r[1] end
idem_keep({ removed = keys, count = #keys, seq = seq })
return emit(seq, 'cleared', ARGV[5], {}, removed, total)
`

/** ARGV: timestamp. Removes every entry due; one change or none. Reply: as any change, with the next expiry Redis knows of in place of the written entry. */
const EXPIRE = PRELUDE + `
local reply = expire_due(ARGV[1])
local next_due = redis.call('ZRANGE', TTL, 0, 0, 'WITHSCORES')[2] or ''
if not reply then return { 2, current_seq(), next_due } end
reply[4] = next_due
return reply
`

/**
 * ARGV: the tail only (stream length: the records to read). A consistent view of one tenant:
 * {seq, {key, meta JSON, entry JSON, ...}, the newest stream records, newest first, epoch}. A
 * tenant without an epoch gets one here, so every instance that loads it agrees on it.
 */
const LOAD = PRELUDE + `
local epoch = history_epoch()
local flat = {}
local all = redis.call('HGETALL', META)
for i = 1, #all, 2 do
  local m = cjson.decode(all[i + 1])
  flat[#flat + 1] = all[i]
  flat[#flat + 1] = all[i + 1]
  flat[#flat + 1] = entry_json(m, redis.call('HGET', CONTENT, all[i]))
end
local history = {}
if STREAM_LEN > 0 then history = redis.call('XREVRANGE', STREAM, '+', '-', 'COUNT', STREAM_LEN) end
return { current_seq(), flat, history, epoch }
`

/**
 * ARGV: the epoch and seq an instance saw, then the tail. When Redis holds that epoch at a lower
 * seq (its state was restored from an older copy), the history it continues is not the one the
 * instance (and its clients) saw: it gets the fresh epoch, and the stream of the old one goes.
 * Reply: the epoch now in force.
 */
const REBASE = PRELUDE + `
local epoch = redis.call('HGET', STATE, 'epoch')
if epoch == ARGV[1] and current_seq() < tonumber(ARGV[2]) then
  redis.call('HSET', STATE, 'epoch', FRESH_EPOCH)
  redis.call('HSET', STATE, 'hbytes', 0)
  redis.call('DEL', STREAM)
  return FRESH_EPOCH
end
return epoch or ''
`

export const SCRIPTS = {
  ctxWrite: WRITE,
  ctxSetPriority: SET_PRIORITY,
  ctxRemove: REMOVE,
  ctxClear: CLEAR,
  ctxExpire: EXPIRE,
  ctxLoad: LOAD,
  ctxRebase: REBASE
} as const

export type ScriptName = keyof typeof SCRIPTS

/** Every script takes the tenant's eight keys, in the order of tenantKeys(). */
export const SCRIPT_KEY_COUNT = 9
