// Actors for store-level tests.
import type { Actor, Role } from '../../src/store/types.js'

export const actor = (userId: string, roles: Role[] = ['writer'], tenant = 'default'): Actor => ({ userId, roles, tenant })
export const alice = actor('alice')
export const bob = actor('bob')
export const admin = actor('root', ['admin'])
export const reader = actor('rita', ['reader'])
