// Where revocations are kept, like the store they protect: in memory only (MCP_DATA_DIR empty), in
// the embedded journal's database (a table of its own), or in Redis (a hash in the tenant's slot),
// where a pub/sub message and a polled version counter bring every instance's change to the others
// within a second.
import type Database from 'better-sqlite3'
import type { RedisClient } from '../store/redis-connection.js'
import { ContextError } from '../errors.js'
import type { Revocation } from './revocation-list.js'

export interface RevocationBackend {
  /** Every revocation still in force (at start). */
  load (now: number): Promise<Revocation[]>
  /** Keeps a new revocation; refuses it (rate_limited) when the tenant already holds `cap`. */
  add (revocation: Revocation, cap: number, now: number): Promise<void>
  /** Lifts one; false when it was not there. */
  remove (tenant: string, id: string): Promise<boolean>
  /** Hears of tenants whose revocations another instance changed, with their list now. */
  follow (onTenant: (tenant: string, revocations: Revocation[]) => void): void
  close (): Promise<void>
}

/** The refusal at the per-tenant cap (MCP_MAX_REVOCATIONS). */
export function tooManyRevocations (cap: number): ContextError {
  return new ContextError('rate_limited',
    `The tenant already holds ${cap} revocations in force (MCP_MAX_REVOCATIONS); lift some, revoke by sub instead of jti, or wait for some to expire`,
    { retry_after_ms: 60_000 })
}

/** Memory only: nothing to persist or share; the instance's list (which checks the cap) is the whole state. */
export class LocalRevocations implements RevocationBackend {
  async load (): Promise<Revocation[]> { return [] }
  async add (): Promise<void> {}
  async remove (): Promise<boolean> { return true }
  follow (): void {}
  async close (): Promise<void> {}
}

/** The embedded journal's database: one row per revocation, written at once (not group-committed). */
export class SqliteRevocations implements RevocationBackend {
  private readonly insert: Database.Statement
  private readonly count: Database.Statement
  private readonly purge: Database.Statement
  private readonly delete: Database.Statement

  constructor (private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS revocations (
      tenant TEXT NOT NULL, id TEXT NOT NULL, revocation TEXT NOT NULL, expires_at INTEGER NOT NULL,
      PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID`)
    this.insert = db.prepare('INSERT INTO revocations (tenant, id, revocation, expires_at) VALUES (?, ?, ?, ?)')
    this.count = db.prepare('SELECT COUNT(*) AS n FROM revocations WHERE tenant = ? AND expires_at > ?')
    this.purge = db.prepare('DELETE FROM revocations WHERE expires_at <= ?')
    this.delete = db.prepare('DELETE FROM revocations WHERE tenant = ? AND id = ?')
  }

  async load (now: number): Promise<Revocation[]> {
    this.purge.run(now)
    const rows = this.db.prepare('SELECT revocation FROM revocations ORDER BY expires_at').all() as Array<{ revocation: string }>
    return rows.map((row) => JSON.parse(row.revocation) as Revocation)
  }

  async add (revocation: Revocation, cap: number, now: number): Promise<void> {
    this.db.transaction(() => {
      this.purge.run(now)
      if ((this.count.get(revocation.tenant, now) as { n: number }).n >= cap) throw tooManyRevocations(cap)
      this.insert.run(revocation.tenant, revocation.id, JSON.stringify(revocation), Date.parse(revocation.expires_at))
    })()
  }

  async remove (tenant: string, id: string): Promise<boolean> {
    return this.delete.run(tenant, id).changes > 0
  }

  follow (): void {}
  async close (): Promise<void> {} // the journal owns and closes the database
}

/** Adds one revocation to a tenant's hash unless it holds `cap` live ones; drops expired ones first. */
const ADD_SCRIPT = `
local now, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #all, 2 do
  if tonumber(cjson.decode(all[i + 1]).x) <= now then redis.call('HDEL', KEYS[1], all[i]) else live = live + 1 end
end
if live >= cap then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`

/** How often each instance compares the shared version counter (pub/sub can miss a message). */
const POLL_MS = 1000

export interface RedisRevocationOptions {
  /** The store's command connection. */
  redis: RedisClient
  /** A connection of its own for pub/sub (opened by the caller, closed here). */
  subscriber: RedisClient
  prefix: string
  onError?: (error: unknown) => void
}

/**
 * Redis: `{prefix:tenant}:revocations` (hash id -> {r: revocation, x: expiry ms}) in the tenant's
 * slot, `prefix:revocation-tenants` (set) to find them, `prefix:revocations` (channel) naming the
 * tenant changed, and `prefix:revocations:version` (counter) polled every second in case a message
 * was missed while disconnected.
 */
export class RedisRevocations implements RevocationBackend {
  private readonly tenantsKey: string
  private readonly channel: string
  private readonly versionKey: string
  private timer: NodeJS.Timeout | undefined
  private version: string | null = null
  private closed = false

  constructor (private readonly options: RedisRevocationOptions) {
    this.tenantsKey = `${options.prefix}:revocation-tenants`
    this.channel = `${options.prefix}:revocations`
    this.versionKey = `${options.prefix}:revocations:version`
    options.redis.defineCommand('ctxRevocationAdd', { numberOfKeys: 1, lua: ADD_SCRIPT })
  }

  private hashOf (tenant: string): string {
    return `{${this.options.prefix}:${encodeURIComponent(tenant)}}:revocations`
  }

  async load (now: number): Promise<Revocation[]> {
    this.version = await this.options.redis.get(this.versionKey)
    const out: Revocation[] = []
    for (const tenant of await this.options.redis.smembers(this.tenantsKey)) out.push(...await this.loadTenant(tenant, now))
    return out
  }

  async add (revocation: Revocation, cap: number, now: number): Promise<void> {
    const { redis } = this.options
    const value = JSON.stringify({ r: revocation, x: Date.parse(revocation.expires_at) })
    const added = await (redis as unknown as { ctxRevocationAdd: (...args: Array<string | number>) => Promise<number> })
      .ctxRevocationAdd(this.hashOf(revocation.tenant), revocation.id, value, now, cap)
    if (added !== 1) throw tooManyRevocations(cap)
    await redis.sadd(this.tenantsKey, revocation.tenant)
    await this.announce(revocation.tenant)
  }

  async remove (tenant: string, id: string): Promise<boolean> {
    const removed = await this.options.redis.hdel(this.hashOf(tenant), id)
    if (removed > 0) await this.announce(tenant)
    return removed > 0
  }

  follow (onTenant: (tenant: string, revocations: Revocation[]) => void): void {
    const { subscriber } = this.options
    const report = this.options.onError ?? (() => {})
    const refresh = (tenant: string) => {
      this.loadTenant(tenant, Date.now()).then((list) => onTenant(tenant, list), report)
    }
    const refreshAll = async () => {
      for (const tenant of await this.options.redis.smembers(this.tenantsKey)) refresh(tenant)
    }
    subscriber.on('message', (channel: string, tenant: string) => { if (channel === this.channel) refresh(tenant) })
    subscriber.subscribe(this.channel).catch(report)
    this.timer = setInterval(() => {
      this.options.redis.get(this.versionKey).then(async (version) => {
        if (version === this.version || this.closed) return
        this.version = version
        await refreshAll()
      }).catch(() => {}) // Redis away: the next poll tries again
    }, POLL_MS)
    this.timer.unref()
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.options.subscriber.disconnect()
  }

  private async announce (tenant: string): Promise<void> {
    this.version = String(await this.options.redis.incr(this.versionKey))
    await this.options.redis.publish(this.channel, tenant)
  }

  private async loadTenant (tenant: string, now: number): Promise<Revocation[]> {
    const all = await this.options.redis.hgetall(this.hashOf(tenant))
    return Object.values(all)
      .map((value) => JSON.parse(value) as { r: Revocation, x: number })
      .filter((held) => held.x > now)
      .sort((a, b) => a.r.created_at.localeCompare(b.r.created_at))
      .map((held) => held.r)
  }
}
