// What the server tells clients about itself (auth_success.server_info, /status.server_info).
import type { Config } from './config.js'
import { VERSION } from './version.js'

export const FEATURES = [
  'update_context', 'query_context', 'token_budget', 'priority_eviction', 'optimistic_concurrency',
  'ttl', 'delta_broadcasts', 'resume', 'tenants', 'rest_api', 'mcp', 'relevant_to'
] as const

export function serverInfo (config: Config, backend: string) {
  return {
    version: VERSION,
    max_tokens: config.maxTokens,
    token_encoding: config.tokenEncoding,
    store: backend,
    features: [...FEATURES]
  }
}
