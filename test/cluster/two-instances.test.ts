// Two server processes sharing one Redis endpoint (REDIS_URL): the scenarios of
// test/helpers/two-instance-scenarios.ts.
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'
import { sharedRateLimit, twoInstanceScenarios } from '../helpers/two-instance-scenarios.js'

redisTest('two server processes sharing one Redis', async (t) => {
  await twoInstanceScenarios(t, { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) })
})

redisTest('the HTTP rate limit is shared by instances on one Redis', async (t) => {
  await sharedRateLimit(t, { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) })
})
