// Builds the token counting pool (worker threads for large contents, MCP_TOKENIZER_*) and stops
// its threads when the server closes.
import fp from 'fastify-plugin'
import { TokenCountingPool } from '../src/tokenizer/counting-pool.js'
import { rankTable } from '../src/tokenizer/rank-table.js'

declare module 'fastify' {
  interface FastifyInstance { tokenizer: TokenCountingPool }
}

export default fp(async (app) => {
  const { config } = app
  // The encoding's table loads now (~0.1-0.3 s), not on the first write, which would make every
  // client wait behind it.
  rankTable(config.tokenEncoding)
  const pool = new TokenCountingPool({
    encoding: config.tokenEncoding,
    threads: config.tokenizerThreads,
    inlineBelow: config.tokenizerInlineBelow,
    maxQueue: config.tokenizerQueue,
    nice: config.tokenizerNice
  })
  app.decorate('tokenizer', pool)
  app.addHook('onClose', async () => { await pool.close() })
}, { name: 'tokenizer', dependencies: ['config'] })
