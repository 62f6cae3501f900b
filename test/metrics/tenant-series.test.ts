// The per-tenant series cap as a plain function: the largest tenants by tokens by name, the rest
// summed under _other, ties broken by name so the choice is stable.
import { test } from 'tap'
import { cappedTenantSeries } from '../../src/metrics/tenant-series.js'

const row = (tenant: string, tokens: number, entries = 1) => ({ tenant, tokens, entries })

test('keeps the largest by tokens and sums the rest under _other', async (t) => {
  t.same(cappedTenantSeries([row('a', 5, 1), row('b', 50, 2), row('c', 20, 3), row('d', 1, 4)], 2),
    [row('b', 50, 2), row('c', 20, 3), row('_other', 6, 5)])
})

test('no _other row when every tenant fits; ties are broken by name', async (t) => {
  t.same(cappedTenantSeries([row('b', 5), row('a', 5)], 2), [row('a', 5), row('b', 5)])
  t.same(cappedTenantSeries([row('b', 5), row('a', 5), row('c', 5)], 1), [row('a', 5), row('_other', 10, 2)])
  t.same(cappedTenantSeries([], 3), [])
})

test('a tenant named _other is summed into that row, never listed twice', async (t) => {
  t.same(cappedTenantSeries([row('_other', 100, 7), row('a', 1)], 5), [row('a', 1), row('_other', 100, 7)])
})
