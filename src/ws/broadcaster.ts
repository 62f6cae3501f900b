// Fans store changes out to the subscribed clients of each tenant. One store listener per app;
// clients are grouped per tenant by (mode, filter), and each group's frame is built once per change
// and the same bytes are written to every member.
//
// Flow control, per client, from its socket's backlog: what it had not sent when this tick began.
// Frames queued in the current tick are not the client's delay (a burst of changes committed
// together is written in one tick and flushed at its end), so they are judged at the next one.
// - snapshot mode: a client that is behind (at least `lagBytes` of backlog) is not sent
//   intermediate snapshots; when its socket drains it gets the latest one (latest state wins, the
//   last is never skipped). The frame is built only when some member can take it.
// - delta mode: deltas are never skipped; a client `resyncBytes` behind stops getting them and,
//   once drained, gets one `context` snapshot with `resync: true`, then deltas after it.
// - any mode: backlog plus the deltas held back from it above `maxBufferedBytes` close it 4008,
//   so a client that stops reading costs at most about that much memory. A frame that replaces
//   the client's whole view (its first `context`, a resync, a snapshot-mode update) is not
//   charged: it reaches a client that reads whatever the store's size, one at a time (see
//   Connection). A snapshot client behind is owed only the latest state: nothing is held for it.
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
  /** Bytes of deltas skipped for this client while it was behind (it is owed a resync for them). */
  heldBytes: number
  group: Group | undefined
  /** Bytes its socket had not sent when this tick began (frames queued in this tick excluded). */
  backlogBytes (): number
  /** The unsent bytes charged against `maxBufferedBytes`: all but this tick's broadcasts and the one whole-view frame. */
  chargedBytes (): number
  /** Writes a broadcast frame; `wholeView` marks one that replaces the client's view (not charged). */
  send (frame: Buffer, wholeView: boolean): void
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
  frame?: GroupFrame & { data: string }
  resync?: GroupFrame
  /** Snapshot mode with a filter: the entries last broadcast, to skip changes that leave them as they were. */
  view?: string
}

export interface GroupFrame { readonly seq: number, readonly bytes: Buffer }

/** Frames that bring a client up to date, and the cursor they leave it at. */
export interface Replay {
  readonly frames: Buffer[]
  readonly cursor: number
  /** The frames are one `context` resync: a whole-view frame, not charged like deltas. */
  readonly wholeView: boolean
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
  // The store frame sent on connect, per tenant, shared by every client that joins at the same seq
  // (a crowd reconnecting at once costs one copy of the store, not one each). Held weakly: it
  // lives while some socket still has it to send, not for as long as the tenant is quiet.
  private readonly joinFrames = new Map<string, { seq: number, bytes: WeakRef<Buffer> }>()
  /** The epoch of the last change published per tenant, to notice a history that started again. */
  private readonly epochs = new Map<string, string>()
  private readonly lagBytes: number
  private readonly resyncBytes: number
  private readonly stopListening: () => void
  private readonly stopForgetting: () => void

  constructor (private readonly options: BroadcasterOptions) {
    this.lagBytes = Math.max(SOCKET_HIGH_WATER_MARK, Math.min(options.maxBufferedBytes / 8, 1024 * 1024))
    this.resyncBytes = Math.max(SOCKET_HIGH_WATER_MARK, options.maxBufferedBytes / 2)
    this.stopListening = options.store.onChange((change) => this.publish(change))
    // A tenant dropped here (no client of it left) may change elsewhere before it is loaded again:
    // its published seq and epoch would be stale, and a resume would miss what came meanwhile.
    this.stopForgetting = options.store.onUnload((tenant) => { this.forget(tenant) })
  }

  close (): void {
    this.stopListening()
    this.stopForgetting()
    this.groups.clear()
    this.joinFrames.clear()
  }

  /** Forgets what it knew of a tenant that has no subscriber here (the store dropped it). */
  private forget (tenant: string): void {
    this.published.delete(tenant)
    this.epochs.delete(tenant)
    this.joinFrames.delete(tenant)
  }

  /** The tenant's store as the `context` frame a client gets on connect, and the seq it reflects. */
  joinFrame (tenant: string): GroupFrame {
    const seq = this.options.store.seq(tenant)
    const cached = this.joinFrames.get(tenant)
    const bytes = cached?.seq === seq ? cached.bytes.deref() : undefined
    if (bytes !== undefined) return { seq, bytes }
    const snapshot = this.options.store.snapshot(tenant)
    const frame = { seq: snapshot.seq, bytes: Buffer.from(contextFrame(snapshot)) }
    this.joinFrames.set(tenant, { seq: frame.seq, bytes: new WeakRef(frame.bytes) })
    return frame
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
  replay (tenant: string, subscription: Subscription, sinceSeq: number, epoch?: string): Replay {
    if (epoch !== undefined && epoch !== this.options.store.epoch(tenant)) return this.resyncReplay(tenant, subscription)
    // A seq beyond the store's own belongs to another history (a memory-only server restarted).
    if (sinceSeq > this.options.store.seq(tenant)) return this.resyncReplay(tenant, subscription)
    const upTo = this.publishedSeq(tenant)
    if (sinceSeq >= upTo) return { frames: [], cursor: sinceSeq, wholeView: false }
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
      return { frames, cursor: upTo, wholeView: false }
    }
    return this.resyncReplay(tenant, subscription)
  }

  private resyncReplay (tenant: string, subscription: Subscription): Replay {
    const snapshot = this.options.store.snapshot(tenant)
    return { frames: [Buffer.from(contextFrame(snapshot, { resync: true, filter: subscription.filter }))], cursor: snapshot.seq, wholeView: true }
  }

  /** The socket of a client that was behind has drained: send what it is owed. */
  drained (subscriber: Subscriber): void {
    const group = subscriber.group
    const owed = subscriber.pending
    if (group === undefined || owed === 'none') {
      subscriber.pending = 'none'
      subscriber.heldBytes = 0
      return
    }
    // Built while the client is still marked behind: building reads the store, which may expire
    // a TTL, and the change that publishes must be held back from this client (the frame already
    // includes it), not sent ahead of the frame, moving its cursor past the deltas it skipped.
    const frame = owed === 'snapshot' ? this.snapshotFrame(group) : this.resyncFrame(group)
    if (subscriber.group !== group) return // cut off meanwhile
    subscriber.pending = 'none'
    subscriber.heldBytes = 0
    if (subscriber.cursor >= frame.seq) return
    this.sendFrame(subscriber, frame, true)
    this.options.metrics?.broadcastRecipients.inc({ mode: owed === 'snapshot' ? 'snapshot' : 'resync' }, 1)
  }

  private publish (change: ChangeEvent): void {
    this.published.set(change.tenant, change.seq)
    const previousEpoch = this.epochs.get(change.tenant)
    this.epochs.set(change.tenant, change.epoch)
    const newHistory = previousEpoch !== undefined && previousEpoch !== change.epoch
    // A cached frame of the old history may carry a seq the new one reaches again.
    if (newHistory) this.joinFrames.delete(change.tenant)
    const tenantGroups = this.groups.get(change.tenant)
    if (tenantGroups === undefined) return
    const started = performance.now()
    try {
      if (newHistory) this.restartHistory(tenantGroups.values())
      for (const group of tenantGroups.values()) {
        if (group.subscription.mode === 'delta') this.publishDelta(group, change)
        else this.publishSnapshot(group, change)
      }
    } catch (error) {
      this.options.onError?.(error)
    }
    this.options.metrics?.broadcastSeconds.observe((performance.now() - started) / 1000)
  }

  private publishDelta (group: Group, change: ChangeEvent): void {
    const text = deltaFrame(change, group.subscription.filter)
    if (text === undefined) return
    const frame = { seq: change.seq, bytes: Buffer.from(text) }
    let delivered = 0
    for (const subscriber of group.members) {
      if (subscriber.cursor >= change.seq) continue
      if (this.canTake(subscriber, this.resyncBytes)) {
        this.sendFrame(subscriber, frame, false)
        delivered++
      } else {
        // Skipped deltas measure how far behind the client is, and add up.
        this.holdBack(subscriber, 'resync', frame.bytes.length)
      }
    }
    if (delivered > 0) this.options.metrics?.broadcastRecipients.inc({ mode: 'delta' }, delivered)
  }

  private publishSnapshot (group: Group, change: ChangeEvent): void {
    const filter = group.subscription.filter
    if (filter !== undefined && viewOf(change, filter) === undefined) return
    let frame: (GroupFrame & { data: string }) | undefined
    let delivered = 0
    for (const subscriber of group.members) {
      if (subscriber.cursor >= change.seq) continue
      if (!this.canTake(subscriber, this.lagBytes)) {
        this.holdBack(subscriber, 'snapshot', 0)
        continue
      }
      if (frame === undefined) {
        // Built once, and only when some member can take it: a stalled dashboard must not make
        // every write cost a frame the size of the store.
        frame = this.snapshotFrame(group)
        if (filter !== undefined) {
          // A filtered view that this change left as it was is not sent again.
          if (frame.data === group.view) return
          group.view = frame.data
        }
      }
      this.sendFrame(subscriber, frame, true)
      delivered++
    }
    if (delivered > 0) this.options.metrics?.broadcastRecipients.inc({ mode: 'snapshot' }, delivered)
  }

  /**
   * The tenant's history started again: every cursor belongs to the old one. Each subscriber gets
   * the store of the new history (delta: a `context` resync; snapshot: a `context_update`), a
   * whole-view frame, and follows on from it. Cached frames of the old history are dropped.
   */
  private restartHistory (groups: Iterable<Group>): void {
    for (const group of groups) {
      group.frame = undefined
      group.resync = undefined
      group.view = undefined
      const frame = group.subscription.mode === 'delta' ? this.resyncFrame(group) : this.snapshotFrame(group)
      for (const subscriber of group.members) {
        subscriber.pending = 'none'
        subscriber.heldBytes = 0
        this.sendFrame(subscriber, frame, true)
      }
    }
  }

  /** Whether a client keeps up well enough to be sent this change now. */
  private canTake (subscriber: Subscriber, lagLimit: number): boolean {
    return subscriber.pending === 'none' && subscriber.backlogBytes() < lagLimit
  }

  /** Marks a client that is behind as owed a frame once its socket drains. */
  private holdBack (subscriber: Subscriber, owed: 'snapshot' | 'resync', skippedBytes: number): void {
    if (subscriber.pending === 'none') {
      subscriber.pending = owed
      subscriber.notifyOnDrain()
    }
    subscriber.heldBytes += skippedBytes
    this.checkCap(subscriber)
  }

  private sendFrame (subscriber: Subscriber, frame: GroupFrame, wholeView: boolean): void {
    subscriber.send(frame.bytes, wholeView)
    subscriber.cursor = frame.seq
    this.checkCap(subscriber)
  }

  private checkCap (subscriber: Subscriber): void {
    if (subscriber.chargedBytes() + subscriber.heldBytes > this.options.maxBufferedBytes) {
      this.leave(subscriber)
      subscriber.closeSlow()
    }
  }

  private snapshotFrame (group: Group): GroupFrame & { data: string } {
    const seq = this.options.store.seq(group.tenant)
    if (group.frame?.seq !== seq) {
      const snapshot: Snapshot = this.options.store.snapshot(group.tenant)
      const data = entriesObject(snapshot.entries, group.subscription.filter)
      group.frame = { seq: snapshot.seq, bytes: Buffer.from(snapshotUpdateFrame(data, snapshot)), data }
    }
    return group.frame
  }

  private resyncFrame (group: Group): GroupFrame {
    const seq = this.options.store.seq(group.tenant)
    if (group.resync?.seq !== seq) {
      const snapshot = this.options.store.snapshot(group.tenant)
      group.resync = { seq: snapshot.seq, bytes: Buffer.from(contextFrame(snapshot, { resync: true, filter: group.subscription.filter })) }
    }
    return group.resync
  }
}
