// Test helpers for the REST routes: a fresh app per test (closed at teardown) and bearer headers
// for any user, roles and tenant, signed with the app's own secret.
import type { Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { signToken } from '../../src/auth/token-signer.js'
import type { Role } from '../../src/store/types.js'
import { testConfig } from '../helpers/config.js'

export interface RestClient {
  app: App
  /** `Authorization` header for a user of a tenant (default: a writer of "default"). */
  as: (sub: string, roles?: Role[], tenant?: string) => { authorization: string }
}

export async function restApp (t: Test, env: Record<string, string> = {}): Promise<RestClient> {
  const config = testConfig(env)
  const app = await buildApp(config, { logger: false })
  t.teardown(() => app.close())
  const as = (sub: string, roles: Role[] = ['writer'], tenant = 'default') =>
    ({ authorization: `Bearer ${signToken(config.jwt, { sub, roles, tenant, ttlSeconds: 600 })}` })
  return { app, as }
}
