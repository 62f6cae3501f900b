// The embedded journal's idempotency table: kept replies (src/store/idempotency.ts) written in the
// same transaction as the change they answer, and read back on start. A table of its own, created
// when missing, beside the journal's entries and tenants.
import type Database from 'better-sqlite3'
import { IdempotencyTable, type IdempotencyRecord, type IdempotencyWrite } from './idempotency.js'

interface Row { tenant: string, user: string, key: string, fingerprint: string, reply: string, expires_at: number }

/** Expired rows are deleted at most this often (they are never served: reads check the time). */
const PURGE_INTERVAL_MS = 60_000

export class SqliteIdempotency {
  private readonly upsert: Database.Statement
  private readonly remove: Database.Statement
  private readonly purgeExpired: Database.Statement
  private lastPurge = 0

  constructor (private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      tenant TEXT NOT NULL, user TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
      reply TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (tenant, user, key)
    ) WITHOUT ROWID`)
    this.upsert = db.prepare(`INSERT INTO idempotency (tenant, user, key, fingerprint, reply, expires_at)
      VALUES (@tenant, @user, @key, @fingerprint, @reply, @expires_at)
      ON CONFLICT (tenant, user, key) DO UPDATE SET fingerprint = excluded.fingerprint, reply = excluded.reply,
        expires_at = excluded.expires_at`)
    this.remove = db.prepare('DELETE FROM idempotency WHERE tenant = ? AND user = ? AND key = ?')
    this.purgeExpired = db.prepare('DELETE FROM idempotency WHERE expires_at <= ?')
  }

  /** Writes one record and deletes those the cap pushed out; call inside the change's transaction. */
  put (write: IdempotencyWrite, now = Date.now()): void {
    const { record } = write
    this.upsert.run({ tenant: write.tenant, user: record.userId, key: record.key, fingerprint: record.fingerprint, reply: record.reply, expires_at: record.expiresAt })
    for (const gone of write.dropped) this.remove.run(write.tenant, gone.userId, gone.key)
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now
      this.purgeExpired.run(now)
    }
  }

  /** Every live record, by tenant, oldest first, in tables capped at `maxKeys`. */
  restore (maxKeys: number, now = Date.now()): Map<string, IdempotencyTable> {
    const tables = new Map<string, IdempotencyTable>()
    const rows = this.db.prepare('SELECT * FROM idempotency WHERE expires_at > ? ORDER BY tenant, expires_at').iterate(now) as IterableIterator<Row>
    for (const row of rows) {
      let table = tables.get(row.tenant)
      if (table === undefined) tables.set(row.tenant, (table = new IdempotencyTable(maxKeys)))
      const record: IdempotencyRecord = { userId: row.user, key: row.key, fingerprint: row.fingerprint, reply: row.reply, expiresAt: row.expires_at }
      table.restore(record, now)
    }
    return tables
  }
}
