// GET /context with `limit` and `cursor`: pages in rank order with metadata.next_cursor while
// more remain; a bad cursor is a 400 validation_error naming querystring.cursor.
import { test } from 'tap'
import { restApp } from './rest-client.js'

test('GET /context pages through the store with limit and next_cursor', async (t) => {
  const { app, as } = await restApp(t)
  const headers = as('alice')
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'PUT', url: `/context/k${i}`, headers, payload: { context: { i }, priority: i < 2 ? 7 : 3 } })
    t.equal(res.statusCode, 201)
  }
  const pages: string[][] = []
  let url = '/context?limit=2'
  for (;;) {
    const res = await app.inject({ method: 'GET', url, headers })
    t.equal(res.statusCode, 200, url)
    const body = res.json()
    pages.push(Object.keys(body.data))
    if (body.metadata.next_cursor === undefined) {
      t.equal(body.metadata.truncated, false, 'the last page leaves nothing out')
      break
    }
    t.equal(body.metadata.truncated, true)
    url = `/context?limit=2&cursor=${encodeURIComponent(body.metadata.next_cursor)}`
    if (pages.length > 10) throw new Error('the walk does not end')
  }
  t.same(pages, [['k1', 'k0'], ['k4', 'k3'], ['k2']])
  const whole = await app.inject({ method: 'GET', url: '/context', headers })
  t.equal(whole.json().metadata.next_cursor, undefined, 'no limit: no cursor')
})

test('a bad cursor, or one with max_tokens, is a 400 validation_error', async (t) => {
  const { app, as } = await restApp(t)
  const headers = as('alice')
  const bad = await app.inject({ method: 'GET', url: '/context?limit=2&cursor=not-a-cursor', headers })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'validation_error', details: [{ path: 'querystring.cursor', message: 'is not a cursor this server returned' }] })
  await app.inject({ method: 'POST', url: '/context', headers, payload: { context: { a: 1 } } })
  await app.inject({ method: 'POST', url: '/context', headers, payload: { context: { b: 2 } } })
  const first = (await app.inject({ method: 'GET', url: '/context?limit=1', headers })).json()
  const mixed = await app.inject({ method: 'GET', url: `/context?max_tokens=100&cursor=${first.metadata.next_cursor as string}`, headers })
  t.equal(mixed.statusCode, 400)
  t.match(mixed.json(), { code: 'validation_error', details: [{ path: 'cursor' }] })
})
