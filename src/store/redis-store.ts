// The shared backend (MCP_STORE=redis): entries, eviction order and each tenant's seq live in
// Redis and change only through the atomic scripts of redis-scripts.ts; every change is also a
// record in the tenant's Redis stream. Each instance keeps a local replica (TenantStore, fed by
// TenantStore.apply) of the tenants in use on it, loaded on first use and dropped after
// MCP_REPLICA_IDLE_SECONDS without one (replica-leases.ts), for synchronous reads, and fans
// their changes out to its own listeners in seq order. Instances learn of each other's changes from the tenant's sharded
// pub/sub channel (each script SPUBLISHes its seq there) and read them with XRANGE from the
// tenant's stream, so no command ever spans two tenants' slots (Redis Cluster), one that briefly
// lost Redis catches up from where it stopped, and resume history is the same everywhere.
import { randomBytes } from 'node:crypto'
import { ReplyError, type RedisOptions } from 'ioredis'
import { ContextError, forbidden, notFound } from '../errors.js'
import { SYSTEM_ACTOR, changeActorOf } from './change-actor.js'
import type { ChangeListener, ContextStore } from './context-store.js'
import {
  DEFAULT_IDEMPOTENCY_MAX_KEYS, DEFAULT_IDEMPOTENCY_TTL_MS, IdempotencyKeyReusedError, fingerprintOf, observeIdempotency, replayedResult,
  type IdempotencyOptions, type IdempotentOperation
} from './idempotency.js'
import { assertCanWrite, canWrite, isAdmin } from './permissions.js'
import { decodeChange, storedEntry } from './change-record.js'
import { entryFromJson } from './content-from-json.js'
import { decodeRecord, seqOfId } from './redis-change.js'
import { tenantKeys, tenantSetKey } from './redis-keys.js'
import { describeTarget, openRedis, type RedisClient, type RedisTarget } from './redis-connection.js'
import { TenantReplica } from './redis-replica.js'
import { ReplicaLeases, type ReplicaStats, type TenantLease } from './replica-leases.js'
import { DEFAULT_HISTORY_BYTES } from './change-history.js'
import { newEpoch } from './epoch.js'
import { isoTimestamp } from './iso-time.js'
import { SCRIPTS, SCRIPT_KEY_COUNT, type ScriptName } from './redis-scripts.js'
import { TenantOrder } from './tenant-order.js'
import { TenantRegistry } from './tenant-registry.js'
import { assertPriority, checkDeferredWrite, prepareWrite, type DeferredWrite, type PreparedWrite, type TenantStoreOptions } from './tenant-store.js'
import type {
  Actor, ChangeActor, ChangeEvent, ClearOptions, ClearResult, ContextQuery, PriorityResult, RemoveResult, RequestOptions,
  WriteInput, WriteResult
} from './types.js'

export interface RedisStoreOptions extends TenantStoreOptions, IdempotencyOptions {
  /** REDIS_URL (when `target` is not given). */
  url?: string
  /** REDIS_URL or a Redis Cluster's seed nodes (MCP_REDIS_CLUSTER_NODES). */
  target?: RedisTarget
  /**
   * MCP_REDIS_WAIT_REPLICAS: a change is acknowledged only once this many replicas of its
   * primary hold it (WAIT on the connection that ran the script). 0: no wait.
   */
  waitReplicas?: number
  /** How long WAIT may take before the write is reported `unavailable` (MCP_REDIS_WAIT_TIMEOUT). */
  waitTimeoutMs?: number
  /** MCP_REDIS_PREFIX: instances sharing a prefix share the store. */
  prefix: string
  /** How often due TTLs are expired (they are also expired when a read finds one due). */
  expirySweepMs?: number
  /** How often loaded tenants' histories are checked against Redis, in case a wake was missed. */
  tenantRescanMs?: number
  /** How long a tenant stays loaded after its last use (MCP_REPLICA_IDLE_SECONDS, in ms). */
  replicaIdleMs?: number
  /** How long to wait for Redis at start before giving up. */
  connectTimeoutMs?: number
  onError?: (error: unknown) => void
  log?: { info: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void }
}

type Reply = [0, string, string] | [1, number, string, string, ...string[]] | [2, number, string?] | [3, string]
type ScriptCommand = (...args: Array<string | number>) => Promise<Reply>

/** Records read per XRANGE call while catching up with a tenant's stream. */
const READ_COUNT = 1000
/** A write is acknowledged once applied locally, or after this long (it is committed anyway). */
const APPLY_WAIT_MS = 5000
/** Streams keep at least this many records, so a briefly lagging instance needs no full reload. */
const MIN_STREAM_LENGTH = 1000
/** How long a gap in a replica may stay open before it is fetched with XRANGE. */
const GAP_GRACE_MS = 20
/** Redis replies that mean "not now" (the command did not run): failover, resharding, loading. */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|READONLY|LOADING|MASTERDOWN|NOREPLICAS)\b/
/** Message on a tenant's wake channel telling other instances to check its history (new epoch). */
const EPOCH_WAKE = 'epoch'
/** Retries of a generated key that another instance made in the same microsecond. */
const KEY_ATTEMPTS = 20

export class RedisContextStore implements ContextStore {
  readonly backend = 'redis' as const
  /** This instance, as recorded in the actor of the changes it decides (one audit line per change). */
  readonly instanceId = randomBytes(6).toString('base64url')
  /** Commands and scripts. Never queues while disconnected: a write then fails at once. */
  readonly redis: RedisClient
  /** Hears that a followed tenant changed: SSUBSCRIBE to each one's channel (its own slot). */
  private readonly wakes: RedisClient
  private readonly target: RedisTarget
  /** Which tenants are loaded here, and until when. */
  private readonly leases: ReplicaLeases
  private readonly unloadListeners = new Set<(tenant: string) => void>()
  private readonly registry: TenantRegistry
  private readonly replicas = new Map<string, TenantReplica>()
  private readonly byChannel = new Map<string, TenantReplica>()
  private readonly listeners = new Set<ChangeListener>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly streamLength: number
  private readonly onError: (error: unknown) => void
  /** Per replica, a catch-up in flight; `again` when another wake arrived meanwhile. */
  private readonly catchingUp = new Map<TenantReplica, { again: boolean }>()
  private lastKeyMicros = 0
  private lastConnectionError: Error | undefined
  private closed = false
  private started = false
  /** Sends each tenant's scripts in call order while large writes are being counted. */
  private readonly order = new TenantOrder()

  private constructor (private readonly options: RedisStoreOptions) {
    // Replicas never expire entries themselves: the expire script does, and its change arrives.
    this.registry = new TenantRegistry({ ...options, expiresEntries: false })
    this.streamLength = Math.max(options.historySize, MIN_STREAM_LENGTH)
    this.onError = options.onError ?? (() => {})
    this.leases = new ReplicaLeases({
      idleMs: options.replicaIdleMs ?? 300_000,
      load: async (tenant) => { await this.load(tenant) },
      unload: (tenant) => { this.unload(tenant) }
    })
    const base: RedisOptions = {
      lazyConnect: true,
      connectionName: `context-server:${options.prefix}`,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000)
    }
    // No offline queue, no retries, no resend after a reconnect: a command that cannot run now
    // fails now, and one cut off mid-flight is never silently run twice.
    const failFast: RedisOptions = { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }
    this.target = options.target ?? { url: options.url ?? 'redis://127.0.0.1:6379' }
    this.redis = openRedis(this.target, { ...failFast, commandTimeout: 10_000 }, { offlineQueue: false })
    this.wakes = openRedis(this.target, { ...base, maxRetriesPerRequest: null }, { sharded: true })
    for (const client of [this.redis, this.wakes]) {
      // Connection errors surface as readiness and as failed operations (and the last one in the
      // message of a failed start); without a listener ioredis would print every retry's error.
      client.on('error', (error: Error) => { this.lastConnectionError = error })
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, { numberOfKeys: SCRIPT_KEY_COUNT, lua })
  }

  /**
   * Connects; tenants are loaded when first used. Rejects when Redis does not answer within the
   * connect timeout.
   */
  static async connect (options: RedisStoreOptions): Promise<RedisContextStore> {
    const store = new RedisContextStore(options)
    try {
      await store.start()
    } catch (error) {
      await store.close()
      const cause = store.lastConnectionError ?? error as Error
      throw new Error(`${describeTarget(store.target)} did not answer: ${cause.message}`)
    }
    return store
  }

  // ---- Operations: validated here, decided and applied atomically by a script in Redis. ----

  // Ordering: each operation is counted (a large content possibly on a worker thread) and its
  // tenant registered first, then its script is sent in the order the tenant's operations were
  // called (tenant-order.ts). One connection carries every script, so Redis runs them in that order.

  async write (actor: Actor, input: WriteInput, request?: RequestOptions): Promise<WriteResult> {
    const prepared = prepareWrite(actor, input, this.options)
    const audit = this.auditArg(actor, request, { op: 'write', input })
    return await this.observed(actor, request, this.inTurn(actor.tenant, prepared, (replica, counted) => this.sendWrite(actor, input, replica, counted, audit)))
  }

  async writeDeferred (actor: Actor, pending: Promise<DeferredWrite>): Promise<WriteResult> {
    return await this.inTurn(actor.tenant, pending, async (replica, write) => {
      const prepared = checkDeferredWrite(actor, write, this.options)
      // Observed here: the request (its idempotency key) is only known now.
      return await this.observed(actor, write.request,
        this.sendWrite(actor, write.input, replica, prepared, this.auditArg(actor, write.request, { op: 'write', input: write.input })))
    })
  }

  async setPriority (actor: Actor, key: string, priority: number, request?: RequestOptions): Promise<PriorityResult> {
    return await this.observed(actor, request, this.inTurn(actor.tenant, undefined, (replica) => this.sendSetPriority(actor, key, priority, replica, request)))
  }

  async remove (actor: Actor, key: string, request?: RequestOptions): Promise<RemoveResult> {
    return await this.observed(actor, request, this.inTurn(actor.tenant, undefined, (replica) => this.sendRemove(actor, key, replica, request)))
  }

  async clear (actor: Actor, options: ClearOptions, request?: RequestOptions): Promise<ClearResult> {
    return await this.observed(actor, request, this.inTurn(actor.tenant, undefined, (replica) => this.sendClear(actor, options, replica, request)))
  }

  /**
   * Runs an operation in its tenant's turn (tenant-order.ts) with the tenant loaded and held until
   * the operation is done: loaded already, the operation starts within this call as before; else
   * its turn is kept while the tenant loads. The tenant is in Redis's tenant set before it starts.
   */
  private async inTurn<P, T> (tenant: string, input: P | Promise<P>, start: (replica: TenantReplica, value: P) => Promise<T>): Promise<T> {
    const held = this.leases.useLoaded(tenant)
    const leased: TenantLease | Promise<TenantLease> = held ?? this.leases.use(tenant)
    const registered = held !== undefined && this.replicas.get(tenant)?.registered === true
    const ready = !(leased instanceof Promise) && !(input instanceof Promise) && registered
      ? input
      : Promise.all([leased, input]).then(async ([, value]) => {
        await this.register(this.loadedReplica(tenant))
        return value
      })
    try {
      return await this.order.run(tenant, ready, (value) => start(this.loadedReplica(tenant), value))
    } finally {
      if (leased instanceof Promise) leased.then((lease) => { lease.release() }, () => {})
      else leased.release()
    }
  }

  private async observed<R extends { replayed?: true }> (actor: Actor, request: RequestOptions | undefined, operation: Promise<R>): Promise<R> {
    return await observeIdempotency(this.options.onIdempotency, actor, request, operation)
  }

  private async sendWrite (
    actor: Actor, input: WriteInput, replica: TenantReplica, { contentJson, tokens }: PreparedWrite, audit: string
  ): Promise<WriteResult> {
    // Left out, priority and source are decided in the script: a rewrite keeps the entry's own.
    const priority = input.priority ?? ''
    const source = input.source ?? ''
    const now = Date.now()
    const timestamp = isoTimestamp(now)
    const expiresAt = input.ttl_seconds !== undefined ? now + input.ttl_seconds * 1000 : undefined
    for (let attempt = 1; ; attempt++) {
      const key = input.key ?? this.generateKey(input.source ?? actor.userId, now)
      const reply = await this.run('ctxWrite', replica, [
        key, contentJson, tokens, priority, actor.userId, JSON.stringify(actor.userId), source, source === '' ? '' : JSON.stringify(source),
        timestamp, expiresAt ?? '', expiresAt !== undefined ? JSON.stringify(new Date(expiresAt).toISOString()) : '',
        isAdmin(actor) ? '1' : '0', input.expected_version ?? '', input.key === undefined ? '1' : '0'
      ], now, audit)
      if (reply[0] === 3) return await this.replayed(replica, reply)
      if (reply[0] === 0 && reply[1] === 'key_exists' && attempt < KEY_ATTEMPTS) {
        // Another instance made the same key: jump a random distance so the two stop marching
        // in step through the same microseconds.
        this.lastKeyMicros += 1 + Math.floor(Math.random() * 1000)
        continue
      }
      const change = await this.accept(replica, reply, key, input.expected_version)
      // The written entry, parsed once already when it was stored; only a write that evicted
      // itself at once needs its JSON parsed here.
      const entry = change.upserted.find((stored) => stored.key === key)?.entry ?? entryFromJson((reply as string[])[3])
      const evicted = change.removed.map((r) => r.key)
      return { key, tokens, version: entry.version, seq: change.seq, epoch: change.epoch, evicted, stored: !evicted.includes(key), entry }
    }
  }

  private async sendSetPriority (actor: Actor, key: string, priority: number, replica: TenantReplica, request?: RequestOptions): Promise<PriorityResult> {
    assertPriority(priority)
    const reply = await this.run('ctxSetPriority', replica, [
      key, priority, actor.userId, isAdmin(actor) ? '1' : '0', canWrite(actor) ? '1' : '0',
      new Date().toISOString()
    ], Date.now(), this.auditArg(actor, request, { op: 'priority', key, priority }))
    if (reply[0] === 3) return await this.replayed(replica, reply)
    const change = await this.accept(replica, reply, key)
    return { key, priority, version: change.upserted[0].entry.version, seq: change.seq }
  }

  private async sendRemove (actor: Actor, key: string, replica: TenantReplica, request?: RequestOptions): Promise<RemoveResult> {
    const reply = await this.run('ctxRemove', replica, [
      key, actor.userId, isAdmin(actor) ? '1' : '0', canWrite(actor) ? '1' : '0',
      new Date().toISOString()
    ], Date.now(), this.auditArg(actor, request, { op: 'remove', key }))
    if (reply[0] === 3) return await this.replayed(replica, reply)
    const change = await this.accept(replica, reply, key)
    return { key, seq: change.seq }
  }

  /** Same rules as TenantStore.clear, decided inside the script against Redis's entries. */
  private async sendClear (actor: Actor, options: ClearOptions, replica: TenantReplica, request?: RequestOptions): Promise<ClearResult> {
    assertCanWrite(actor)
    const admin = isAdmin(actor)
    if (options.all === true && !admin) throw new ContextError('forbidden', 'Clearing the whole tenant needs the admin role')
    const anyOwner = admin && (options.all === true || options.source !== undefined || options.keys !== undefined)
    const reply = await this.run('ctxClear', replica, [
      actor.userId, anyOwner ? '1' : '0', options.source ?? '', options.keys !== undefined ? JSON.stringify(options.keys) : '',
      new Date().toISOString()
    ], Date.now(), this.auditArg(actor, request, { op: 'clear', options }))
    if (reply[0] === 3) return await this.replayed(replica, reply)
    if (reply[0] === 2) return { removed: [], count: 0, seq: reply[1] }
    const change = await this.accept(replica, reply, '')
    const removed = change.removed.map((r) => r.key)
    return { removed, count: removed.length, seq: change.seq }
  }

  // ---- Reads: synchronous, from the local replica. ----

  get (tenant: string, key: string) {
    const stored = this.view(tenant).get(key)
    // The expire script may not have run yet; an entry past its time is never returned.
    if (stored?.expiresAt !== undefined && stored.expiresAt <= Date.now()) return undefined
    return stored
  }

  snapshot (tenant: string) { return this.view(tenant).snapshot() }
  query (tenant: string, query: ContextQuery) { return this.view(tenant).query(query) }
  metadata (tenant: string) { return this.view(tenant).metadata }
  seq (tenant: string) { return this.view(tenant).seq }
  epoch (tenant: string) { return this.view(tenant).epoch }
  /** From the local replica's history, which holds every instance's changes (fed by the streams). */
  changesSince (tenant: string, seq: number) { return this.view(tenant).changesSince(seq) }
  retainedChanges (tenant: string, seq: number, limit: number) { return this.view(tenant).retainedChanges(seq, limit) }
  tenants () { return this.registry.names() }

  // ---- Tenants on demand (replica-leases.ts). ----

  async use (tenant: string): Promise<TenantLease> { return await this.leases.use(tenant) }
  useLoaded (tenant: string): TenantLease | undefined { return this.leases.useLoaded(tenant) }
  replicaStats (): ReplicaStats { return this.leases.stats() }

  onUnload (listener: (tenant: string) => void) {
    this.unloadListeners.add(listener)
    return () => { this.unloadListeners.delete(listener) }
  }

  onChange (listener: ChangeListener) {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Ready when the command and wake connections are up and Redis answers a PING. */
  async isReady (): Promise<boolean> {
    if (this.closed || this.redis.status !== 'ready' || this.wakes.status !== 'ready') return false
    try {
      await this.redis.ping()
      return true
    } catch {
      return false
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.leases.close()
    for (const timer of this.timers) clearInterval(timer)
    for (const replica of this.replicas.values()) replica.releaseAll()
    this.wakes.disconnect()
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {})
    this.redis.disconnect()
  }

  // ---- Start, discovery and the stream reader. ----

  private async start (): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([Promise.all([this.redis.connect(), this.wakes.connect()]), timeout])
    } finally {
      clearTimeout(timer)
    }
    this.wakes.on('smessage', (channel: string, message: string) => { this.onWake(channel, message) })
    // After a reconnect, look for a Redis that came back without the data this replica has
    // (restarted without persistence): follow it from its own seq rather than ignore it; and
    // read what was written while the wake channels were not heard.
    this.redis.on('ready', () => { if (this.started) this.reconcile().catch(this.onError) })
    this.wakes.on('ready', () => { if (this.started) this.reconcile().catch(this.onError) })
    this.started = true
    this.every(this.options.expirySweepMs ?? 1000, () => this.sweepExpired())
    this.every(this.options.tenantRescanMs ?? 10_000, () => { this.rescanTenants().catch(() => {}) })
  }

  /**
   * Loads a tenant (ReplicaLeases calls this once per first use): follows its wake channel, reads
   * its state and recent history in one script, and expires its due TTLs before anyone reads it
   * (nobody may have expired them while no instance held the tenant). Rejects `unavailable` when
   * Redis does not answer; the replica is then forgotten and the next use tries again.
   */
  private async load (tenant: string): Promise<void> {
    const replica = new TenantReplica(tenant, tenantKeys(this.options.prefix, tenant), this.registry, {
      emit: (change) => this.emit(change),
      onGap: (r) => this.scheduleFill(r)
    })
    this.replicas.set(tenant, replica)
    this.byChannel.set(replica.keys.wake, replica)
    this.follow(replica)
    try {
      await this.call(async () => { await this.reload(replica) })
      if (replica.nextExpiry !== undefined && replica.nextExpiry <= Date.now()) await this.expire(replica)
    } catch (error) {
      this.unload(tenant)
      throw error
    }
  }

  /** Drops a tenant's replica: stops following it and frees its store (ReplicaLeases, idle). */
  private unload (tenant: string): void {
    const replica = this.replicas.get(tenant)
    if (replica === undefined) return
    replica.drop()
    this.replicas.delete(tenant)
    this.byChannel.delete(replica.keys.wake)
    this.catchingUp.delete(replica)
    this.fillScheduled.delete(replica)
    this.expiring.delete(replica)
    // Not awaited: a wake that still arrives finds no replica and is ignored.
    if (!this.closed) this.wakes.sunsubscribe(replica.keys.wake).catch(() => {})
    for (const listener of this.unloadListeners) {
      try { listener(tenant) } catch (error) { this.onError(error) }
    }
  }

  /**
   * Subscribes to the tenant's wake channel, then reads what its stream holds past the replica
   * (the reload may have read the tenant before the subscription took effect).
   */
  private follow (replica: TenantReplica): void {
    this.wakes.ssubscribe(replica.keys.wake)
      .then(() => { this.catchUp(replica) })
      // Not subscribed now (Redis away): the reconnect resubscribes and reconcile catches up.
      .catch(() => {})
  }

  /** The replica of a tenant held by a lease (operations hold one for their duration). */
  private loadedReplica (tenant: string): TenantReplica {
    const replica = this.replicas.get(tenant)
    if (replica === undefined || !replica.loaded) {
      // A surface read a tenant it did not acquire (ContextStore.use): a bug, said loudly.
      throw new ContextError('internal', `Tenant "${tenant}" is not loaded on this instance (read without ContextStore.use)`)
    }
    return replica
  }

  /** The tenant's local store for a read; starts an expiry when one is due. */
  private view (tenant: string) {
    const replica = this.loadedReplica(tenant)
    if (this.expiryDue(replica, Date.now())) this.expire(replica).catch(this.onError)
    return replica.store
  }

  /** Adds the tenant to Redis's tenant set once, and tells other instances when it is new. */
  private async register (replica: TenantReplica): Promise<void> {
    if (replica.registered) return
    const prefix = this.options.prefix
    await this.call(() => this.redis.sadd(tenantSetKey(prefix), replica.tenant))
    replica.registered = true
  }

  /** Finds changes and history restarts of loaded tenants whose wakes this instance missed. */
  private async rescanTenants (): Promise<void> {
    // One command per tenant (each tenant's keys are in its own slot); ioredis pipelines them.
    for (const replica of [...this.replicas.values()].filter((r) => r.loaded && !r.reloading)) {
      await this.checkHistory(replica)
    }
  }

  /**
   * A script's wake: the seq it wrote (read it unless this replica has it already), or `epoch`:
   * another instance found the tenant's history started again (check and reload).
   */
  private onWake (channel: string, message: string): void {
    const replica = this.byChannel.get(channel)
    if (replica === undefined) return
    if (message === EPOCH_WAKE) {
      this.checkHistory(replica).catch(this.onError)
      return
    }
    if (Number(message) > replica.seq) this.catchUp(replica)
  }

  /**
   * Reads the tenant's stream from the replica's seq onwards (XRANGE, one slot), at most one
   * read in flight per tenant: wakes that arrive meanwhile are folded into one more read.
   */
  private catchUp (replica: TenantReplica): void {
    const running = this.catchingUp.get(replica)
    if (running !== undefined) {
      running.again = true
      return
    }
    if (this.closed || replica.reloading || replica.gone) return
    const state = { again: false }
    this.catchingUp.set(replica, state)
    this.readStream(replica)
      .catch(() => {}) // Redis away: the reconnect's reconcile reads again
      .finally(() => {
        this.catchingUp.delete(replica)
        if (state.again) this.catchUp(replica)
      })
  }

  private async readStream (replica: TenantReplica): Promise<void> {
    for (;;) {
      if (this.closed || replica.reloading || replica.gone) return
      const records = await this.redis.xrange(replica.keys.stream, `${replica.seq + 1}-0`, '+', 'COUNT', READ_COUNT)
      if (records.length === 0) return
      // Every seq has a record, so a first record past seq + 1 means the ones between were
      // trimmed while this instance was away: only a reload can bring it up to date.
      if (seqOfId(records[0][0]) > replica.seq + 1) {
        await this.reload(replica)
        return
      }
      for (const record of records) {
        // This instance's own writes may have been applied meanwhile: skip them before parsing.
        if (seqOfId(record[0]) <= replica.seq) continue
        const change = decodeRecord(replica.tenant, record, replica.store.epoch)
        // A record of another history (Redis lost its state and started again): reload.
        if (!this.sameHistory(replica, change)) {
          await this.reload(replica)
          return
        }
        replica.deliver(change)
      }
      if (records.length < READ_COUNT) return
    }
  }

  /**
   * A gap usually closes by itself within a moment: with writers on several instances, a script's
   * reply often arrives before the stream brings the changes just before it. Fetch only when the
   * gap is still open a little later, so concurrent writers do not each cost an extra XRANGE.
   */
  private scheduleFill (replica: TenantReplica): void {
    if (this.fillScheduled.has(replica) || this.closed) return
    this.fillScheduled.add(replica)
    setTimeout(() => {
      this.fillScheduled.delete(replica)
      if (replica.gap() !== undefined) this.fillGap(replica).catch(this.onError)
    }, GAP_GRACE_MS).unref()
  }

  private readonly fillScheduled = new Set<TenantReplica>()

  /** Fetches the records missing before the replica's held changes; reloads when they are gone. */
  private async fillGap (replica: TenantReplica): Promise<void> {
    const gap = replica.gap()
    if (gap === undefined || replica.reloading || replica.gone) return
    let records: Array<[string, string[]]>
    try {
      records = await this.redis.xrange(replica.keys.stream, `${gap.from}-0`, `${gap.to}-0`)
    } catch {
      return // Redis is away: the stream reader catches up after the reconnect.
    }
    if (records.length === 0 || seqOfId(records[0][0]) !== gap.from) {
      await this.reload(replica)
      return
    }
    for (const record of records) replica.deliver(decodeRecord(replica.tenant, record))
  }

  /** Replaces the replica with the tenant's state and recent history, read in one atomic script. */
  private async reload (replica: TenantReplica): Promise<void> {
    if (replica.reloading || replica.gone) return
    replica.hold()
    try {
      const before = { epoch: replica.store.epoch, seq: replica.seq }
      const [seq, flat, newestFirst, epoch] = await this.scriptCommand('ctxLoad')(...replica.keys.script,
        ...this.tail(replica, Date.now(), this.options.historySize)) as unknown as [number, string[], Array<[string, string[]]>, string]
      const entries = []
      for (let i = 0; i < flat.length; i += 3) {
        const meta = JSON.parse(flat[i + 1]) as { s: number, x?: number }
        entries.push(storedEntry(flat[i], meta.s, meta.x ?? 0, flat[i + 2]))
      }
      // Keep the unbroken run of records that ends at seq (resume needs no holes).
      const history: ChangeEvent[] = []
      for (const record of newestFirst) {
        const change = decodeRecord(replica.tenant, record, epoch)
        if (change.seq !== seq - history.length || change.epoch !== epoch) break
        history.unshift(change)
      }
      if (seq < replica.seq) this.options.log?.warn({ tenant: replica.tenant, redisSeq: seq, localSeq: replica.seq }, 'Redis holds less than this instance saw (was it restarted without persistence?); following Redis')
      const fresh = this.registry.create(replica.tenant)
      fresh.restore(entries, seq, history, epoch)
      replica.replace(fresh)
      // A history this instance had followed started again: tell the other instances, which may
      // not have noticed (no reconnect, no write of their own), so they reload too.
      if (epoch !== before.epoch && before.seq > 0) {
        this.options.log?.warn({ tenant: replica.tenant, epoch, previousEpoch: before.epoch }, 'the tenant\'s history in Redis started again (state lost or reset): new epoch')
        await this.call(() => this.redis.call('SPUBLISH', replica.keys.wake, EPOCH_WAKE)).catch(() => {})
      }
    } catch (error) {
      replica.abandonReload() // give up this attempt; the next gap or reconnect retries
      throw error
    }
    // Changes written between the load and now (or while it was held) are read from the stream.
    this.catchUp(replica)
  }

  private async reconcile (): Promise<void> {
    for (const replica of [...this.replicas.values()].filter((r) => r.loaded)) await this.checkHistory(replica)
  }

  /**
   * Reloads a replica whose history Redis no longer has: another epoch (or none: state lost), or
   * a seq behind the replica's (state restored from an older copy).
   */
  private async checkHistory (replica: TenantReplica): Promise<void> {
    await this.followHistory(replica, await this.redis.hmget(replica.keys.state, 'seq', 'epoch'))
  }

  /** Reloads the replica when Redis's `[seq, epoch]` of the tenant is not the history it follows. */
  private async followHistory (replica: TenantReplica, [seq, epoch]: Array<string | null>): Promise<void> {
    if (!replica.loaded) return // dropped meanwhile, or its first load (which reads all) in flight
    // Nothing on either side (a tenant only read so far): nothing to reload.
    if (epoch === null && seq === null && replica.seq === 0) return
    const behind = Number(seq ?? 0) < replica.seq
    if (epoch === replica.store.epoch && !behind) {
      // The same history: read whatever this replica has not heard of yet (a missed wake).
      if (Number(seq ?? 0) > replica.seq) this.catchUp(replica)
      return
    }
    // The same epoch at a lower seq: Redis was restored from an older copy. Its next seqs would
    // name other changes than the ones this instance's clients saw, so it becomes a new history.
    if (epoch === replica.store.epoch && behind) {
      await this.run('ctxRebase', replica, [replica.store.epoch, replica.seq])
    }
    await this.reload(replica)
  }

  // ---- Expiry. ----

  private sweepExpired (): void {
    const now = Date.now()
    for (const replica of this.replicas.values()) {
      if (replica.loaded && this.expiryDue(replica, now)) this.expire(replica).catch(this.onError)
    }
  }

  /** Whether a background expiry should run now (not while Redis is away: it would only fail). */
  private expiryDue (replica: TenantReplica, now: number): boolean {
    return replica.nextExpiry !== undefined && replica.nextExpiry <= now && this.redis.status === 'ready'
  }

  private readonly expiring = new Map<TenantReplica, Promise<void>>()

  /** Runs the expire script for one tenant (at most one at a time per tenant); settles once applied. */
  private async expire (replica: TenantReplica): Promise<void> {
    const running = this.expiring.get(replica)
    if (running !== undefined) return await running
    const now = Date.now()
    const done = this.run('ctxExpire', replica, [new Date(now).toISOString()], now)
      .then(async (reply) => {
        // The script reports the next expiry Redis knows of (the replica's hint may be stale).
        const nextDue = reply[0] === 2 ? reply[2] : (reply as string[])[3]
        replica.nextExpiry = nextDue !== undefined && nextDue !== '' ? Number(nextDue) : undefined
        if (reply[0] === 1) await this.accept(replica, reply, '')
      })
      .finally(() => this.expiring.delete(replica))
    this.expiring.set(replica, done)
    return await done
  }

  // ---- Helpers. ----

  /** Applies a script's change here at once (read-your-writes), or throws its refusal. */
  private async accept (replica: TenantReplica, reply: Reply, key: string, expectedVersion?: number): Promise<ChangeEvent> {
    if (reply[0] === 0) throw refusal(reply[1], reply[2], key, expectedVersion)
    const [, seq, header, , ...entryJsons] = reply as [1, number, string, string, ...string[]]
    const change = decodeChange(replica.tenant, seq, header, entryJsons)
    if (!this.sameHistory(replica, change)) {
      // The tenant's history started again in Redis: this replica must reload, not apply.
      await this.reload(replica)
      return change
    }
    replica.deliver(change)
    await replica.whenApplied(seq, APPLY_WAIT_MS)
    return change
  }

  /** Whether `change` continues the replica's history (a replica that has seen none takes its epoch). */
  private sameHistory (replica: TenantReplica, change: ChangeEvent): boolean {
    return change.seq === 1 ? replica.store.adoptEpoch(change.epoch) : change.epoch === replica.store.epoch
  }

  /** Runs a script; `audit` is the change's actor (and idempotency record), the system's by default. */
  private async run (name: ScriptName, replica: TenantReplica, args: Array<string | number>, now = Date.now(), audit = this.systemAudit()): Promise<Reply> {
    const all = [...replica.keys.script, ...args, ...this.tail(replica, now, this.streamLength, audit)]
    const replicas = this.options.waitReplicas ?? 0
    if (replicas === 0) return await this.call(() => this.scriptCommand(name)(...all))
    return await this.runDurably(name, all, replicas)
  }

  /**
   * Runs a script and then WAIT on the same connection (one pipeline, routed to the tenant's
   * primary), so the reply counts the replicas that hold this script's change. Too few within
   * the timeout: `unavailable`. The change may still be applied (and later acknowledged to a
   * retry through its idempotency key); it is only never reported done before it is held.
   */
  private async runDurably (name: ScriptName, all: Array<string | number>, replicas: number): Promise<Reply> {
    const timeoutMs = this.options.waitTimeoutMs ?? 1000
    const results = await this.call(async () => {
      const pipeline = this.redis.pipeline() as unknown as Record<ScriptName, (...a: Array<string | number>) => unknown> & {
        call: (...a: Array<string | number>) => unknown
        exec: () => Promise<Array<[Error | null, unknown]> | null>
      }
      pipeline[name](...all)
      pipeline.call('WAIT', replicas, timeoutMs)
      return await pipeline.exec()
    })
    const [[scriptError, reply], [waitError, held]] = results ?? [[new Error('no reply'), undefined], [null, 0]]
    if (scriptError !== null) return await this.call(async () => { throw scriptError })
    const acknowledged = (reply as Reply)[0] !== 1 || (waitError === null && Number(held) >= replicas)
    if (!acknowledged) {
      throw new ContextError('unavailable',
        `The change reached ${Number(held ?? 0)} of ${replicas} Redis replicas within ${timeoutMs} ms (MCP_REDIS_WAIT_REPLICAS); it was not acknowledged and may still be applied: retry with the same idempotency key`)
    }
    return reply as Reply
  }

  /**
   * The arguments every script takes last (redis-scripts.ts). The fresh epoch is used only by a
   * tenant that has none in Redis: a replica that has seen no change offers its own (its clients
   * saw that epoch at seq 0, which stays true), any other a new one (Redis lost what it saw).
   */
  private tail (replica: TenantReplica, now: number, records: number, audit = this.systemAudit()): Array<string | number> {
    const fresh = replica.seq === 0 ? replica.store.epoch : newEpoch(now)
    return [now, this.options.maxTokens, records, this.options.historyBytes ?? DEFAULT_HISTORY_BYTES, fresh, audit]
  }

  // ---- Audit and idempotency (src/store/change-actor.ts, src/store/idempotency.ts). ----

  /** The scripts' last argument: the change's actor, and the idempotency key's record when given. */
  private auditArg (actor: Actor, request: RequestOptions | undefined, operation: IdempotentOperation): string {
    const a = this.stamped(changeActorOf(actor))
    const key = request?.idempotencyKey
    if (key === undefined) return JSON.stringify({ a })
    const now = Date.now()
    return JSON.stringify({
      a,
      i: {
        f: JSON.stringify([actor.userId, key]),
        p: fingerprintOf(operation),
        x: now + (this.options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS),
        n: now,
        c: this.options.idempotencyMaxKeys ?? DEFAULT_IDEMPOTENCY_MAX_KEYS
      }
    })
  }

  private systemAudit (): string {
    return JSON.stringify({ a: this.stamped(SYSTEM_ACTOR) })
  }

  private stamped (actor: ChangeActor): ChangeActor {
    return { ...actor, instance: this.instanceId }
  }

  /** A replay's first reply; returned once this instance has applied that change (read-your-writes). */
  private async replayed<R> (replica: TenantReplica, reply: Reply): Promise<R> {
    const result = replayedResult<R & { seq: number }>((reply as [3, string])[1])
    await replica.whenApplied(result.seq, APPLY_WAIT_MS)
    return result
  }

  private scriptCommand (name: ScriptName): ScriptCommand {
    return (this.redis as unknown as Record<ScriptName, ScriptCommand>)[name].bind(this.redis)
  }

  /** Runs a Redis command; a lost or refused connection becomes `unavailable`, never a success. */
  private async call<T> (command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ContextError('unavailable', 'The store is shutting down')
    try {
      return await command()
    } catch (error) {
      if (error instanceof ContextError) throw error
      this.onError(error)
      // A slot without a reachable primary (failover, resharding) is an outage, not a refusal.
      if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test((error as Error).message)) throw new ContextError('internal', 'The shared store refused the operation')
      throw new ContextError('unavailable', 'The shared store (Redis) is unavailable; the change was not acknowledged, retry later')
    }
  }

  private emit (change: ChangeEvent): void {
    // A failing listener (one broken subscriber path) must not stop the others or the replica.
    for (const listener of this.listeners) {
      try { listener(change) } catch (error) { this.onError(error) }
    }
  }

  private every (ms: number, task: () => void): void {
    const timer = setInterval(task, ms)
    timer.unref()
    this.timers.push(timer)
  }

  /** A key from the source, like `content_agent_001_1763980200.123456`, unique on this instance. */
  private generateKey (source: string, now: number): string {
    const micros = Math.max(now * 1000, this.lastKeyMicros + 1)
    this.lastKeyMicros = micros
    return `${source}_${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`
  }
}

/** A script's refusal as the contract's error (same messages as the memory backend's). */
function refusal (code: string, detail: string, key: string, expectedVersion?: number): ContextError {
  switch (code) {
    case 'not_found': return notFound(key)
    case 'idempotency_key_reused': return new IdempotencyKeyReusedError()
    case 'forbidden_role': return forbidden('This operation needs the writer or admin role')
    case 'forbidden_owner': return forbidden(`Entry "${detail !== '' ? detail : key}" belongs to another user`)
    case 'version_conflict': return new ContextError('version_conflict',
      `Entry "${key}" is at version ${detail}, not ${expectedVersion}`,
      { key, expected_version: expectedVersion, current_version: Number(detail) })
    default: return new ContextError('internal', `The shared store refused the operation (${code})`)
  }
}
