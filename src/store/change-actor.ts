// The audit layer of the store: who made each change. Operations take the caller's Actor (which
// surfaces tag with their name and client id); the change records it as a ChangeActor. Expiries,
// evictions and the server's own bookkeeping are the `system`'s.
import type { Actor, ChangeActor, ChangeEvent } from './types.js'

/** The actor of expiries, evictions and replica resynchronisation. */
export const SYSTEM_ACTOR: ChangeActor = Object.freeze({ sub: 'system', surface: 'system' })

/** The audit actor of a caller. In-process callers that name no surface count as `system`. */
export function changeActorOf (actor: Actor): ChangeActor {
  const surface = actor.surface ?? 'system'
  return actor.clientId !== undefined ? { sub: actor.userId, surface, client_id: actor.clientId } : { sub: actor.userId, surface }
}

/** The actor as clients see it: without the internal instance id. */
export function publicActor (actor: ChangeActor): ChangeActor {
  if (actor.instance === undefined) return actor
  const { instance: _instance, ...rest } = actor
  return rest
}

/** One item of the audit trail (GET /changes): a change's keys, and who moved them. */
export interface AuditItem {
  seq: number
  at: string
  reason: string
  actor: ChangeActor
  upserted: string[]
  removed: string[]
}

/**
 * A change as audit items. A write that pushed entries out is one change (one seq), but the
 * evictions are the system's doing, not the writer's: they are listed as a second item with the
 * same seq, reason `evicted` and the system actor.
 */
export function auditItems (change: ChangeEvent): AuditItem[] {
  const actor = publicActor(change.actor)
  const upserted = change.upserted.map((stored) => stored.key)
  const evicted: string[] = []
  const removed: string[] = []
  for (const item of change.removed) (item.reason === 'evicted' ? evicted : removed).push(item.key)
  const own: AuditItem = { seq: change.seq, at: change.at, reason: change.reason, actor, upserted, removed }
  if (evicted.length === 0) return [own]
  return [own, { seq: change.seq, at: change.at, reason: 'evicted', actor: SYSTEM_ACTOR, upserted: [], removed: evicted }]
}
