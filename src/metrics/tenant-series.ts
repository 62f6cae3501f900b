// Which tenants get their own metric series. One series per tenant breaks Prometheus at thousands
// of tenants, so only the largest (by tokens held) are listed by name and the rest are summed
// under one `_other` series: the totals stay exact and the series count stays bounded.

/** The label of the series that sums every tenant beyond the cap. */
export const OTHER_TENANTS = '_other'

export interface TenantFigures {
  readonly tenant: string
  readonly tokens: number
  readonly entries: number
}

/**
 * The `max` tenants holding the most tokens (ties: by name, so the choice is stable from one
 * scrape to the next), then, when any are left, one `_other` row summing them. A tenant that is
 * itself named `_other` is summed into that row rather than listed twice.
 */
export function cappedTenantSeries (tenants: Iterable<TenantFigures>, max: number): TenantFigures[] {
  const named: TenantFigures[] = []
  let other: { tokens: number, entries: number } | undefined
  const addOther = (row: TenantFigures) => {
    other ??= { tokens: 0, entries: 0 }
    other.tokens += row.tokens
    other.entries += row.entries
  }
  for (const row of tenants) {
    if (row.tenant === OTHER_TENANTS) addOther(row)
    else named.push(row)
  }
  named.sort((a, b) => b.tokens - a.tokens || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0))
  for (const row of named.slice(max)) addOther(row)
  const kept = named.slice(0, max)
  return other === undefined ? kept : [...kept, { tenant: OTHER_TENANTS, ...other }]
}
