// Fans store changes out to the subscribed clients of each tenant. One store listener per app;
// clients are grouped per tenant by (mode, filter), and each group's frame is built once per change
// and the same bytes are written to every member.
//
// Flow control, per client, from how many bytes its socket has not yet sent:
// - snapshot mode: a client that is behind (at least `lagBytes` unsent) is not sent intermediate
//   snapshots; when its socket drains it gets the latest one (latest state wins, the last is never
//   skipped).
// - delta mode: deltas are never skipped; a client `resyncBytes` behind stops getting them and,
//   once drained, gets one `context` snapshot with `resync: true`, then deltas after it.
// - any mode: unsent bytes plus the bytes held back for it above `maxBufferedBytes` close it 4008,
//   so a client that stops reading costs at most about that much memory. (A snapshot client is
//   held back at most one snapshot: it is conflated, never cut off for being skipped.)
//
// Resume (`since_seq`) replays history only up to the last seq this broadcaster has published: a
// change the store has applied but not yet made durable (and so not yet announced) arrives live
// afterwards. With the cursor rule below that gives no gap and no duplicate.
//
// Epochs (contract §7): a resume that names another epoch gets a resync, never deltas of another
// history; and when a tenant's history starts again under live subscribers (Redis lost its
// state), every one of them is brought into the new history with a fresh snapshot.
import { performance } from 'node:perf_hooks'
import type { ContextStore } from '../store/context-store.js'
import type { ChangeEvent, Snapshot } from '../store/types.js'
import { contextFrame, deltaFrame, entriesObject, snapshotUpdateFrame } from './serialization.js'
import { subscriptionKey, viewOf, type Subscription } from './subscription.js'

/** What the broadcaster needs from a connection. */
export interface Subscriber {
  readonly tenant: string
  /** The highest seq this client's view reflects; a change at or below it is never sent again. */
  cursor: number
  /** What the client is owed once its socket drains. */
  pending: 'none' | 'snapshot' | 'resync'
  /** Bytes held back from this client while it was behind. */
  heldBytes: number
  group: Group | undefined
  /** Bytes written to the socket but not yet sent. */
  unsentBytes (): number
  send (frame: Buffer): void
  /** Arranges for `Broadcaster.drained(this)` once the socket has sent what it holds. */
  notifyOnDrain (): void
  /** Closes with 4008 `Slow consumer`. */
  closeSlow (): void
}

export interface Group {
  readonly tenant: string
  readonly key: string
  readonly subscription: Subscription
  readonly members: Set<Subscriber>
  /** The last frame built for this group, by the seq it reflects, reused by every member. */
  frame?: { seq: number, bytes: Buffer, data: string }
  resync?: { seq: number, bytes: Buffer }
  /** Snapshot mode with a filter: the entries last broadcast, to skip changes that leave them as they were. */
  view?: string
}

export interface BroadcastMetrics {
  readonly broadcastSeconds: { observe: (seconds: number) => void }
  readonly broadcastRecipients: { inc: (labels: { mode: string }, value: number) => void }
}

export interface BroadcasterOptions {
  readonly store: ContextStore
  readonly maxBufferedBytes: number
  readonly metrics?: BroadcastMetrics
  /** Reports a failure inside the fan-out (it never reaches the writer). */
  readonly onError?: (error: unknown) => void
}

// Below this a socket is keeping up; it is also Node's stream high-water mark, which guarantees a
// 'drain' event for a socket that is at least this far behind.
const SOCKET_HIGH_WATER_MARK = 16 * 1024

export class Broadcaster {
  private readonly groups = new Map<string, Map<string, Group>>()
  private readonly published = new Map<string, number>()
  /** The epoch of the last change published per tenant, to notice a history that started again. */
  private readonly epochs = new Map<string, string>()
  private readonly lagBytes: number
  private readonly resyncBytes: number
  private readonly stopListening: () => void

  constructor (private readonly options: BroadcasterOptions) {
    this.lagBytes = Math.max(SOCKET_HIGH_WATER_MARK, Math.min(options.maxBufferedBytes / 8, 1024 * 1024))
    this.resyncBytes = Math.max(SOCKET_HIGH_WATER_MARK, options.maxBufferedBytes / 2)
    this.stopListening = options.store.onChange((change) => this.publish(change))
  }

  close (): void {
    this.stopListening()
    this.groups.clear()
  }

  /** The last seq announced for a tenant: everything up to it may be replayed from history. */
  publishedSeq (tenant: string): number {
    return this.published.get(tenant) ?? this.options.store.seq(tenant)
  }

  /**
   * Puts a client in the group of its subscription; live changes after `cursor` reach it.
   * `mode: none` leaves it in no group.
   */
  subscribe (subscriber: Subscriber, subscription: Subscription, cursor: number): void {
    this.leave(subscriber)
    subscriber.cursor = cursor
    subscriber.pending = 'none'
    subscriber.heldBytes = 0
    if (subscription.mode === 'none') return
    const tenant = subscriber.tenant
    let tenantGroups = this.groups.get(tenant)
    if (tenantGroups === undefined) {
      tenantGroups = new Map()
      this.groups.set(tenant, tenantGroups)
    }
    const key = subscriptionKey(subscription)
    let group = tenantGroups.get(key)
    if (group === undefined) {
      group = { tenant, key, subscription, members: new Set() }
      tenantGroups.set(key, group)
    }
    group.members.add(subscriber)
    subscriber.group = group
  }

  /** Takes a client out of its group (closing, or switching to `none`). */
  leave (subscriber: Subscriber): void {
    const group = subscriber.group
    if (group === undefined) return
    subscriber.group = undefined
    group.members.delete(subscriber)
    if (group.members.size > 0) return
    const tenantGroups = this.groups.get(group.tenant)
    tenantGroups?.delete(group.key)
    if (tenantGroups?.size === 0) this.groups.delete(group.tenant)
  }

  /**
   * Frames that bring a client from `sinceSeq` to the published seq: the missed deltas (matching
   * its filter), or one `context` with `resync: true` when history does not reach back or the
   * replay would be larger than a resync. Returns them with the cursor they leave the client at.
   * `epoch`, when the client names one, must be the tenant's current epoch, or it gets a resync.
   */
  replay (tenant: string, subscription: Subscription, sinceSeq: number, epoch?: string): { frames: Buffer[], cursor: number } {
    if (epoch !== undefined && epoch !== this.options.store.epoch(tenant)) return this.resyncReplay(tenant, subscription)
    // A seq beyond the store's own belongs to another history (a memory-only server restarted).
    if (sinceSeq > this.options.store.seq(tenant)) return this.resyncReplay(tenant, subscription)
    const upTo = this.publishedSeq(tenant)
    if (sinceSeq >= upTo) return { frames: [], cursor: sinceSeq }
    const changes = this.options.store.changesSince(tenant, sinceSeq)
    if (changes !== undefined) {
      const frames: Buffer[] = []
      let bytes = 0
      for (const change of changes) {
        if (change.seq > upTo) break
        const frame = deltaFrame(change, subscription.filter)
        if (frame === undefined) continue
        const buffer = Buffer.from(frame)
        bytes += buffer.length
        if (bytes > this.resyncBytes) return this.resyncReplay(tenant, subscription)
        frames.push(buffer)
      }
      return { frames, cursor: upTo }
    }
    return this.resyncReplay(tenant, subscription)
  }

  private resyncReplay (tenant: string, subscription: Subscription): { frames: Buffer[], cursor: number } {
    const snapshot = this.options.store.snapshot(tenant)
    return { frames: [Buffer.from(contextFrame(snapshot, { resync: true, filter: subscription.filter }))], cursor: snapshot.seq }
  }

  /** The socket of a client that was behind has drained: send what it is owed. */
  drained (subscriber: Subscriber): void {
    const group = subscriber.group
    const owed = subscriber.pending
    subscriber.pending = 'none'
    subscriber.heldBytes = 0
    if (group === undefined || owed === 'none') return
    const seq = this.options.store.seq(group.tenant)
    if (subscriber.cursor >= seq) return
    this.sendFrame(subscriber, owed === 'snapshot' ? this.snapshotFrame(group) : this.resyncFrame(group), seq)
    this.options.metrics?.broadcastRecipients.inc({ mode: owed === 'snapshot' ? 'snapshot' : 'resync' }, 1)
  }

  private publish (change: ChangeEvent): void {
    this.published.set(change.tenant, change.seq)
    const previousEpoch = this.epochs.get(change.tenant)
    this.epochs.set(change.tenant, change.epoch)
    const tenantGroups = this.groups.get(change.tenant)
    if (tenantGroups === undefined) return
    const started = performance.now()
    try {
      if (previousEpoch !== undefined && previousEpoch !== change.epoch) this.restartHistory(tenantGroups.values())
      for (const group of tenantGroups.values()) this.publishToGroup(group, change)
    } catch (error) {
      this.options.onError?.(error)
    }
    this.options.metrics?.broadcastSeconds.observe((performance.now() - started) / 1000)
  }

  private publishToGroup (group: Group, change: ChangeEvent): void {
    const { mode, filter } = group.subscription
    let bytes: Buffer | undefined
    let seq = change.seq
    if (mode === 'delta') {
      const frame = deltaFrame(change, filter)
      if (frame === undefined) return
      bytes = Buffer.from(frame)
    } else if (filter !== undefined) {
      if (viewOf(change, filter) === undefined) return
      this.snapshotFrame(group)
      const view = group.frame?.data
      if (view === group.view) return
      group.view = view
    }
    let delivered = 0
    for (const subscriber of group.members) {
      if (subscriber.cursor >= change.seq) continue
      if (bytes === undefined) {
        // Snapshot mode: built lazily, once, only if some member is due one.
        bytes = this.snapshotFrame(group)
        seq = group.frame?.seq ?? seq
      }
      if (this.deliver(subscriber, mode, bytes, seq)) delivered++
    }
    if (delivered > 0) this.options.metrics?.broadcastRecipients.inc({ mode }, delivered)
  }

  /**
   * The tenant's history started again: every cursor belongs to the old one. Each subscriber gets
   * the store of the new history (delta: a `context` resync; snapshot: a `context_update`) and
   * follows on from it. Cached frames of the old history are dropped (their seqs may recur).
   */
  private restartHistory (groups: Iterable<Group>): void {
    for (const group of groups) {
      group.frame = undefined
      group.resync = undefined
      group.view = undefined
      const bytes = group.subscription.mode === 'delta' ? this.resyncFrame(group) : this.snapshotFrame(group)
      const seq = this.options.store.seq(group.tenant)
      for (const subscriber of group.members) {
        subscriber.pending = 'none'
        subscriber.heldBytes = 0
        this.sendFrame(subscriber, bytes, seq)
      }
    }
  }

  /** Sends a broadcast frame or holds it back from a client that is behind. True when sent. */
  private deliver (subscriber: Subscriber, mode: 'snapshot' | 'delta' | 'none', bytes: Buffer, seq: number): boolean {
    if (subscriber.pending !== 'none') {
      // A snapshot client behind is owed only the latest snapshot (skipped ones are never kept),
      // so only that one counts: conflation must not turn into a slow-consumer close. Deltas
      // skipped for a delta client measure how far behind it is, and add up.
      subscriber.heldBytes = subscriber.pending === 'snapshot' ? Math.max(subscriber.heldBytes, bytes.length) : subscriber.heldBytes + bytes.length
      this.checkCap(subscriber)
      return false
    }
    if (subscriber.unsentBytes() >= (mode === 'snapshot' ? this.lagBytes : this.resyncBytes)) {
      subscriber.pending = mode === 'snapshot' ? 'snapshot' : 'resync'
      subscriber.heldBytes = bytes.length
      subscriber.notifyOnDrain()
      this.checkCap(subscriber)
      return false
    }
    this.sendFrame(subscriber, bytes, seq)
    return true
  }

  private sendFrame (subscriber: Subscriber, bytes: Buffer, seq: number): void {
    subscriber.send(bytes)
    subscriber.cursor = seq
    this.checkCap(subscriber)
  }

  private checkCap (subscriber: Subscriber): void {
    if (subscriber.unsentBytes() + subscriber.heldBytes > this.options.maxBufferedBytes) {
      this.leave(subscriber)
      subscriber.closeSlow()
    }
  }

  private snapshotFrame (group: Group): Buffer {
    const seq = this.options.store.seq(group.tenant)
    if (group.frame?.seq !== seq) {
      const snapshot: Snapshot = this.options.store.snapshot(group.tenant)
      const data = entriesObject(snapshot.entries, group.subscription.filter)
      group.frame = { seq: snapshot.seq, bytes: Buffer.from(snapshotUpdateFrame(data, snapshot)), data }
    }
    return group.frame.bytes
  }

  private resyncFrame (group: Group): Buffer {
    const seq = this.options.store.seq(group.tenant)
    if (group.resync?.seq !== seq) {
      const snapshot = this.options.store.snapshot(group.tenant)
      group.resync = { seq: snapshot.seq, bytes: Buffer.from(contextFrame(snapshot, { resync: true, filter: group.subscription.filter })) }
    }
    return group.resync.bytes
  }
}
