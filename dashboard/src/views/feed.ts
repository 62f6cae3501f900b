// The feed of changes as they happen: seq, time, reason, keys, actor.
import { h } from '../dom.js'
import type { FeedItem } from '../model.js'

export function feedView (feed: readonly FeedItem[]): HTMLElement {
  if (feed.length === 0) return h('p', { class: 'empty' }, 'No changes yet: they appear here as they happen.')
  return h('ol', { id: 'feed-list', 'aria-live': 'polite' }, ...feed.slice(0, 100).map((item) => h('li', { 'data-reason': item.reason },
    h('span', { class: `reason r-${item.reason}` }, item.reason), ' ',
    h('span', { class: 'keys' }, item.keys.length > 3 ? `${item.keys.slice(0, 3).join(', ')} +${item.keys.length - 3}` : item.keys.join(', ')),
    item.actor !== '' ? h('span', { class: 'actor' }, ` by ${item.actor}`) : null,
    h('span', { class: 'when' }, ` #${item.seq} · ${new Date(item.at).toLocaleTimeString()}`))))
}
