// Role rules of the contract, in one place: readers read, writers also write and manage their own
// entries, admins manage everything in their tenant.
import { forbidden } from '../errors.js'
import type { Actor } from './types.js'

export const isAdmin = (actor: Actor): boolean => actor.roles.includes('admin')

/** Any known role reads; a token whose roles are all unknown reads nothing. */
export const canRead = (actor: Actor): boolean => actor.roles.length > 0

export const canWrite = (actor: Actor): boolean => isAdmin(actor) || actor.roles.includes('writer')

export function assertCanRead (actor: Actor): void {
  if (!canRead(actor)) throw forbidden('This operation needs the reader, writer or admin role')
}

export function assertCanWrite (actor: Actor): void {
  if (!canWrite(actor)) throw forbidden('This operation needs the writer or admin role')
}

export function assertAdmin (actor: Actor): void {
  if (!isAdmin(actor)) throw forbidden('This operation needs the admin role')
}

/** Writers change only entries they own; admins any entry of their tenant. */
export function assertMayChange (actor: Actor, owner: string, key: string): void {
  assertCanWrite(actor)
  if (!isAdmin(actor) && owner !== actor.userId) {
    throw forbidden(`Entry "${key}" belongs to another user`)
  }
}
