// A deliberately naive store written straight from CONTRACT §1 and the original design's
// _prune_context: after every write, sort everything by (priority desc, write order desc) and
// keep the longest prefix that fits. Property tests compare the real store against it.

export interface ReferenceEntry { key: string, tokens: number, priority: number, order: number }

export class ReferenceStore {
  entries = new Map<string, ReferenceEntry>()
  private order = 0

  constructor (readonly maxTokens: number) {}

  write (key: string, tokens: number, priority: number): void {
    if (tokens > this.maxTokens) return // refused: nothing changes
    this.entries.set(key, { key, tokens, priority, order: ++this.order })
    this.prune()
  }

  setPriority (key: string, priority: number): void {
    const entry = this.entries.get(key)
    if (entry === undefined) return
    // A priority change is a write of that key: it becomes the most recent.
    this.entries.set(key, { ...entry, priority, order: ++this.order })
    this.prune()
  }

  remove (key: string): void {
    this.entries.delete(key)
  }

  ranked (): ReferenceEntry[] {
    return [...this.entries.values()].sort((a, b) => b.priority - a.priority || b.order - a.order)
  }

  total (): number {
    let sum = 0
    for (const e of this.entries.values()) sum += e.tokens
    return sum
  }

  private prune (): void {
    if (this.total() <= this.maxTokens) return
    const kept = new Map<string, ReferenceEntry>()
    let tokens = 0
    for (const entry of this.ranked()) {
      if (tokens + entry.tokens > this.maxTokens) break
      kept.set(entry.key, entry)
      tokens += entry.tokens
    }
    this.entries = kept
  }
}
