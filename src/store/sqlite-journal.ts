// The embedded persistence of the memory backend: every change is written to SQLite (WAL mode)
// before it is acknowledged, and on start every tenant's store is rebuilt from the database.
//
// The database holds current state: one row per live entry (upserted or deleted per change) and
// one row per tenant with its seq and history epoch, so restart cost follows the store's size,
// never its age. It also holds the tenant's resume history (the same window as the in-memory
// history, bounded by MCP_HISTORY_SIZE and MCP_HISTORY_BYTES, trimmed as it moves), so a client
// resuming with `since_seq` across a restart gets exactly the changes it missed. A database that
// is new (a lost or replaced data directory) starts new epochs, so such a resume gets a resync.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ContextError } from '../errors.js'
import { decodeChange, encodeHeader } from './change-record.js'
import { newEpoch } from './epoch.js'
import { DEFAULT_IDEMPOTENCY_MAX_KEYS, type IdempotencyWrite } from './idempotency.js'
import { MemoryContextStore, type ChangeJournal, type MemoryStoreOptions } from './memory-store.js'
import { SqliteIdempotency } from './sqlite-idempotency.js'
import { buildStoredEntry, contentJsonOf } from './tenant-store.js'
import { TenantRegistry } from './tenant-registry.js'
import type { ChangeEvent, StoredEntry } from './types.js'

export interface SqliteJournalOptions {
  /** Directory of the database file (MCP_DATA_DIR); created when missing. */
  dataDir: string
  /** `always`: fsync every commit (survives power loss); `batch`: survives a process crash. */
  fsync: 'always' | 'batch'
  /** Reports a failed commit (its writers are also rejected). */
  onError?: (error: unknown) => void
}

/** A change to commit (with the oldest seq of its tenant's history), its idempotency record, or both. */
interface Pending { change?: ChangeEvent, retainedFrom: number, idempotency?: IdempotencyWrite, resolve: () => void, reject: (error: unknown) => void }

interface ChangeRow { seq: number, header: string, entries: string }

// Entry JSON is made by JSON.stringify, which never writes a raw newline: it separates the
// entries of one history row without any escaping.
const ENTRY_SEPARATOR = '\n'

interface EntryRow {
  tenant: string
  key: string
  seq: number
  timestamp: string
  content: string
  tokens: number
  source: string
  priority: number
  owner: string
  version: number
  expires_at: number | null
}

const SCHEMA_VERSION = 2
export const DATABASE_FILE = 'context.db'

export class SqliteJournal implements ChangeJournal {
  private readonly db: Database.Database
  private queue: Pending[] = []
  private flushScheduled = false
  private healthy = true
  private closed = false
  private readonly onError: (error: unknown) => void
  private readonly commitBatch: (batch: Pending[]) => void
  private readonly setEpoch: Database.Statement
  /** Kept replies of idempotent writes, committed with their changes. */
  readonly idempotency: SqliteIdempotency
  /** Transactions committed and changes they held: how well writes are being grouped. */
  readonly stats = { commits: 0, changes: 0 }

  /**
   * Opens (or creates) the database in `dataDir`. Takes an exclusive lock on it, so a second
   * process pointed at the same directory fails at start instead of interleaving writes.
   */
  constructor (options: SqliteJournalOptions) {
    mkdirSync(options.dataDir, { recursive: true })
    this.onError = options.onError ?? (() => {})
    // A short busy timeout: another live server holding the lock is a configuration error.
    this.db = new Database(join(options.dataDir, DATABASE_FILE), { timeout: 1000 })
    try {
      // Exclusive before WAL: one process owns the file, and WAL needs no shared-memory index.
      this.db.pragma('locking_mode = EXCLUSIVE')
      this.db.pragma('journal_mode = WAL')
      // In WAL mode NORMAL syncs only at checkpoints: a commit is in the OS once written, which
      // survives kill -9 but not power loss. FULL syncs the WAL on every commit.
      this.db.pragma(`synchronous = ${options.fsync === 'always' ? 'FULL' : 'NORMAL'}`)
      // The migration writes, which takes the lock now rather than at the first client write.
      this.migrate()
    } catch (error) {
      this.db.close()
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`MCP_DATA_DIR ${options.dataDir} is in use by another server process`)
      }
      throw error
    }

    const upsert = this.db.prepare(`INSERT INTO entries
      (tenant, key, seq, timestamp, content, tokens, source, priority, owner, version, expires_at)
      VALUES (@tenant, @key, @seq, @timestamp, @content, @tokens, @source, @priority, @owner, @version, @expires_at)
      ON CONFLICT (tenant, key) DO UPDATE SET seq = excluded.seq, timestamp = excluded.timestamp,
        content = excluded.content, tokens = excluded.tokens, source = excluded.source,
        priority = excluded.priority, owner = excluded.owner, version = excluded.version,
        expires_at = excluded.expires_at`)
    const remove = this.db.prepare('DELETE FROM entries WHERE tenant = ? AND key = ?')
    const setSeq = this.db.prepare(`INSERT INTO tenants (tenant, seq, epoch) VALUES (?, ?, ?)
      ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch`)
    this.setEpoch = this.db.prepare('UPDATE tenants SET epoch = ? WHERE tenant = ?')
    const addChange = this.db.prepare('INSERT OR REPLACE INTO changes (tenant, seq, header, entries) VALUES (?, ?, ?, ?)')
    const trimChanges = this.db.prepare('DELETE FROM changes WHERE tenant = ? AND seq < ?')
    this.idempotency = new SqliteIdempotency(this.db)
    // One transaction per batch: the WAL is written (and, with FULL, synced) once for all of them.
    // A change and the idempotency record answering it commit together or not at all.
    this.commitBatch = this.db.transaction((batch: Pending[]) => {
      const retained = new Map<string, number>()
      for (const { change, retainedFrom, idempotency } of batch) {
        if (idempotency !== undefined) this.idempotency.put(idempotency)
        if (change === undefined) continue
        for (const { key } of change.removed) remove.run(change.tenant, key)
        for (const stored of change.upserted) upsert.run(toRow(change.tenant, stored))
        setSeq.run(change.tenant, change.seq, change.epoch)
        // A change already outside the history window (too big for MCP_HISTORY_BYTES) is not kept.
        if (change.seq >= retainedFrom) {
          addChange.run(change.tenant, change.seq, encodeHeader(change), change.upserted.map((stored) => stored.json).join(ENTRY_SEPARATOR))
        }
        retained.set(change.tenant, Math.max(retained.get(change.tenant) ?? 0, retainedFrom))
      }
      for (const [tenant, from] of retained) trimChanges.run(tenant, from)
    })
  }

  /**
   * Queues a change; resolves once the transaction holding it has committed. Changes appended in
   * the same turn of the event loop share one commit (group commit).
   */
  append (change: ChangeEvent, retainedFrom: number, idempotency?: IdempotencyWrite): Promise<void> {
    return this.enqueue({ change, retainedFrom, idempotency })
  }

  /** Commits the idempotency record of a request that changed nothing. */
  recordIdempotency (idempotency: IdempotencyWrite): Promise<void> {
    return this.enqueue({ retainedFrom: 0, idempotency })
  }

  /** The database, for other tables of the same file (revocations); owned and closed by the journal. */
  get database (): Database.Database {
    return this.db
  }

  private enqueue (item: Omit<Pending, 'resolve' | 'reject'>): Promise<void> {
    if (this.closed) return Promise.reject(new ContextError('unavailable', 'The store is shutting down'))
    return new Promise((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  isHealthy (): boolean {
    return this.healthy && !this.closed
  }

  /** Commits what is queued, then closes the database (checkpointing the WAL into the file). */
  async close (): Promise<void> {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.db.close()
  }

  /**
   * Rebuilds every tenant's store in `registry` from the database: entries, seq, epoch and resume
   * history. Returns the tenants restored.
   */
  restoreInto (registry: TenantRegistry): number {
    const seqs = this.db.prepare('SELECT tenant, seq, epoch FROM tenants').all() as Array<{ tenant: string, seq: number, epoch: string | null }>
    const changes = this.db.prepare('SELECT seq, header, entries FROM changes WHERE tenant = ? ORDER BY seq')
    const rows = this.db.prepare('SELECT * FROM entries ORDER BY tenant, seq').iterate() as IterableIterator<EntryRow>
    const byTenant = new Map<string, StoredEntry[]>()
    for (const row of rows) {
      let list = byTenant.get(row.tenant)
      if (list === undefined) byTenant.set(row.tenant, (list = []))
      list.push(fromRow(row))
    }
    for (const { tenant, seq, epoch: stored } of seqs) {
      // A database written before epochs: its history starts a new epoch now, kept from here on.
      const epoch = stored ?? newEpoch()
      if (stored === null) this.setEpoch.run(epoch, tenant)
      const history = (changes.all(tenant) as ChangeRow[]).map((row) =>
        decodeChange(tenant, row.seq, row.header, row.entries === '' ? [] : row.entries.split(ENTRY_SEPARATOR), epoch))
      registry.of(tenant).restore(byTenant.get(tenant) ?? [], seq, history, epoch)
    }
    return seqs.length
  }

  private flush (): void {
    this.flushScheduled = false
    if (this.queue.length === 0 || this.closed) return
    const batch = this.queue
    this.queue = []
    try {
      this.commitBatch(batch)
      this.healthy = true
      this.stats.commits++
      this.stats.changes += batch.length
    } catch (error) {
      // The working set already holds these changes; report the failure to every writer (no
      // false success) and stop reporting ready until a commit succeeds again.
      this.healthy = false
      this.onError(error)
      const failure = new ContextError('unavailable', 'The change could not be persisted')
      for (const pending of batch) pending.reject(failure)
      return
    }
    for (const pending of batch) pending.resolve()
  }

  private migrate (): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new Error(`The database in MCP_DATA_DIR has schema version ${version}; this server knows ${SCHEMA_VERSION}`)
    }
    if (version === SCHEMA_VERSION) {
      this.db.exec('BEGIN IMMEDIATE; COMMIT')
      return
    }
    if (version === 1) {
      // Version 1 had no epochs and no history: both start at this open.
      this.db.exec(`
        ALTER TABLE tenants ADD COLUMN epoch TEXT;
        CREATE TABLE changes (tenant TEXT NOT NULL, seq INTEGER NOT NULL, header TEXT NOT NULL, entries TEXT NOT NULL, PRIMARY KEY (tenant, seq));
        PRAGMA user_version = ${SCHEMA_VERSION};
      `)
      return
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tenants (tenant TEXT PRIMARY KEY, seq INTEGER NOT NULL, epoch TEXT) WITHOUT ROWID;
      -- The resume history: one row per retained change (change-record.ts form).
      CREATE TABLE IF NOT EXISTS changes (tenant TEXT NOT NULL, seq INTEGER NOT NULL, header TEXT NOT NULL, entries TEXT NOT NULL, PRIMARY KEY (tenant, seq));
      CREATE TABLE IF NOT EXISTS entries (
        tenant TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, timestamp TEXT NOT NULL,
        content TEXT NOT NULL, tokens INTEGER NOT NULL, source TEXT NOT NULL, priority INTEGER NOT NULL,
        owner TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER,
        PRIMARY KEY (tenant, key)
      );
      PRAGMA user_version = ${SCHEMA_VERSION};
    `)
  }
}

function toRow (tenant: string, stored: StoredEntry): EntryRow {
  const { entry } = stored
  return {
    tenant,
    key: stored.key,
    seq: stored.seq,
    timestamp: entry.timestamp,
    // The content as it was serialized for counting: cut out of the entry JSON, not re-serialized.
    content: contentJsonOf(stored),
    tokens: entry.tokens,
    source: entry.source,
    priority: entry.priority,
    owner: entry.owner,
    version: entry.version,
    expires_at: stored.expiresAt ?? null
  }
}

function fromRow (row: EntryRow): StoredEntry {
  return buildStoredEntry(row.key, row.seq, row.content, JSON.parse(row.content), {
    timestamp: row.timestamp,
    tokens: row.tokens,
    source: row.source,
    priority: row.priority,
    owner: row.owner,
    version: row.version,
    expiresAt: row.expires_at ?? undefined
  })
}

/**
 * The embedded persistent store: opens the journal in `dataDir`, rebuilds every tenant from it,
 * and serves from memory with every change committed before it is acknowledged.
 */
export function openPersistentStore (options: MemoryStoreOptions & Omit<SqliteJournalOptions, 'onError'>): { store: MemoryContextStore, journal: SqliteJournal, restoredTenants: number } {
  const journal = new SqliteJournal({ dataDir: options.dataDir, fsync: options.fsync, onError: options.onError })
  const registry = new TenantRegistry(options)
  let restoredTenants: number
  try {
    restoredTenants = journal.restoreInto(registry)
  } catch (error) {
    journal.close().catch(() => {})
    throw error
  }
  const idempotency = journal.idempotency.restore(options.idempotencyMaxKeys ?? DEFAULT_IDEMPOTENCY_MAX_KEYS)
  return { store: new MemoryContextStore({ ...options, registry, journal, idempotency }), journal, restoredTenants }
}
