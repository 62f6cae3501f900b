// Zod schemas of the security routes (revocations, the audit trail): their inputs as untrusted
// input, their replies as the OpenAPI document shows them.
import { z } from 'zod'

const isoTime = z.iso.datetime({ offset: true })

export const revocationRequestSchema = z.object({
  sub: z.string().min(1).max(256).optional().describe('Revoke every token of this user (in your tenant) issued before issued_before'),
  issued_before: isoTime.optional().describe('With sub: tokens issued before this time (default: now). A token without iat counts as issued before'),
  jti: z.string().min(1).max(256).optional().describe('Revoke the one token with this jti claim'),
  expires_at: isoTime.optional().describe('When the revocation lifts by itself (default: in 24 hours; at most 366 days)')
}).strict()
  .refine((body) => (body.sub === undefined) !== (body.jti === undefined), { error: 'give exactly one of sub or jti', path: ['sub'] })
  .refine((body) => body.issued_before === undefined || body.sub !== undefined, { error: 'issued_before goes with sub', path: ['issued_before'] })

export const revocationSchema = z.object({
  id: z.string().describe('Names the revocation in DELETE /revocations/{id}'),
  tenant: z.string(),
  sub: z.string().optional(),
  issued_before: z.string().optional().describe('Tokens of sub issued before this time are refused'),
  jti: z.string().optional(),
  created_at: z.string(),
  expires_at: z.string().describe('The revocation lifts by itself at this time'),
  created_by: z.string().describe('The admin who made it')
}).meta({ id: 'Revocation', description: 'Tokens refused on every surface until expires_at' })

export const revocationListSchema = z.object({
  revocations: z.array(revocationSchema).describe('The tenant\'s revocations in force, oldest first')
}).meta({ id: 'RevocationList' })

export const revocationParamsSchema = z.object({ id: z.string().min(1).max(64) })

const seqText = z.string().regex(/^\d{1,15}$/, { error: 'must be a non-negative integer' }).transform(Number)

export const changesQuerySchema = z.object({
  since_seq: seqText.optional().describe('Changes after this seq (default 0: from the oldest retained)'),
  limit: seqText.pipe(z.number().int().min(1).max(1000, { error: 'must be at most 1000' })).optional()
    .describe('At most this many changes (default 100, at most 1000)')
}).strict()

const actorSchema = z.object({
  sub: z.string().describe('The user (JWT sub), or "system" for expiries and evictions'),
  surface: z.enum(['ws', 'rest', 'mcp', 'system']),
  client_id: z.string().optional().describe('The WebSocket client_id or MCP session (mcp-<id>), when there is one')
}).meta({ id: 'ChangeActor', description: 'Who made a change' })

export const changeItemSchema = z.object({
  seq: z.number().int(),
  at: z.string().describe('When the change was made (ISO 8601, UTC)'),
  reason: z.enum(['created', 'replaced', 'priority', 'deleted', 'cleared', 'expired', 'evicted']),
  actor: actorSchema,
  upserted: z.array(z.string()).describe('Keys written'),
  removed: z.array(z.string()).describe('Keys removed')
}).meta({ id: 'ChangeRecord' })

export const changesSchema = z.object({
  changes: z.array(changeItemSchema)
    .describe('Oldest first. A write that evicted entries is one change (one seq) listed twice: the write by its writer, the evictions (reason evicted) by system'),
  seq: z.number().int().describe('The tenant\'s current seq'),
  epoch: z.string().describe('The history these seqs belong to (contract §7)'),
  has_more: z.boolean().describe('Whether more retained changes follow; ask again with since_seq set to the last seq returned')
}).meta({ id: 'Changes' })
