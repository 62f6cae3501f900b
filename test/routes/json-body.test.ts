// REST bodies are parsed by the WebSocket frame rules: one input, one answer on every surface.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'
import { parseFrame } from '../../src/ws/frame-parser.js'

test('a forbidden key is validation_error, broken JSON is invalid_json, and nothing is stored', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const post = (payload: string) => app.inject({
    method: 'POST', url: '/context', payload, headers: { authorization: `Bearer ${signTestToken()}`, 'content-type': 'application/json' }
  })
  for (const body of ['{"context":{"__proto__":{"polluted":true}}}', '{"context":{"constructor":{"prototype":{"polluted":true}}}}']) {
    const res = await post(body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'validation_error', body)
    t.equal(parseFrame(body.replace('{"context"', '{"type":"update_context","context"')).ok === false &&
      (parseFrame(body.replace('{"context"', '{"type":"update_context","context"')) as { code: string }).code, 'validation_error',
    'the WebSocket surface gives the same code')
  }
  const broken = await post('{"context":{"a":1')
  t.equal(broken.statusCode, 400)
  t.equal(broken.json().code, 'invalid_json')
  t.equal((await post('')).json().code, 'invalid_json', 'an empty JSON body')
  t.equal(app.store.metadata('default').entry_count, 0)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal((await post('{"context":{"ok":true}}')).statusCode, 201, 'a clean body still works')
})
