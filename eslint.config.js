// neostandard (the Fastify team's style) with TypeScript support.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'clients/*/dist/**', 'dashboard/dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'data/**'] })
]
