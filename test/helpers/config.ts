// Builds a Config for tests: memory-only, silent, on a random port, with a fixed secret.
import { loadConfig, type Config } from '../../src/config.js'

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-production-use-0123456789'

export function testConfig (overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MCP_PORT: '0',
    MCP_DATA_DIR: '',
    MCP_JWT_SECRET_KEY: TEST_SECRET,
    ...overrides
  })
}
