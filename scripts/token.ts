// `npm run token -- --sub alice --roles writer --tenant acme --ttl 1h`: prints a JWT the server
// accepts, signed with the secret of the environment (MCP_JWT_SECRET_KEY or JWT_SECRET_KEY), for
// development and operations. The token alone goes to stdout, so `$(npm run -s token -- ...)` works;
// what it grants goes to stderr.
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { ConfigError, loadConfig, type Config } from '../src/config.js'
import { signToken } from '../src/auth/token-signer.js'
import { tenantSchema } from '../src/auth/identity.js'

const USAGE = `Usage: npm run token -- --sub <user> [--roles reader|writer|admin[,...]] [--tenant <name>] [--ttl <30s|15m|1h|7d>]

Prints a JWT signed with MCP_JWT_SECRET_KEY (or JWT_SECRET_KEY) from the environment.
  --sub      the user (required)
  --roles    comma-separated or repeated; default writer
  --tenant   default "default"
  --ttl      lifetime: a number with s, m, h or d; default 1h, at most 365d`

const EXIT_REFUSED = 1
const EXIT_USAGE = 2

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const
const MAX_TTL_SECONDS = 365 * 86400

const ttlSchema = z.string()
  .regex(/^[1-9]\d*[smhd]$/, { error: 'must be a whole number followed by s, m, h or d, like 30s, 15m, 1h or 7d' })
  .transform((text) => Number(text.slice(0, -1)) * UNIT_SECONDS[text.slice(-1) as keyof typeof UNIT_SECONDS])
  .refine((seconds) => seconds <= MAX_TTL_SECONDS, { error: 'must be at most 365d' })

const argsSchema = z.object({
  sub: z.string({ error: 'is required' }).min(1, { error: 'must not be empty' }).max(256),
  roles: z.array(z.string()).default(['writer'])
    .transform((values) => values.flatMap((value) => value.split(',')).map((role) => role.trim()).filter((role) => role !== ''))
    .pipe(z.array(z.enum(['reader', 'writer', 'admin'], { error: 'each must be reader, writer or admin' })).min(1, { error: 'must name at least one role' })),
  tenant: tenantSchema.default('default'),
  ttl: ttlSchema.default(3600)
}).strict()

class UsageError extends Error {}

function parseArguments (argv: string[]) {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        sub: { type: 'string' },
        roles: { type: 'string', multiple: true },
        tenant: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help === true) return 'help' as const
  const { help: _help, ...rest } = values
  const parsed = argsSchema.safeParse(rest)
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((issue) => `--${String(issue.path[0] ?? 'arguments')} ${issue.message}`).join('\n'))
  }
  return parsed.data
}

/** The configuration, or why no usable token can be made with it. */
function signingConfig (): Config {
  const config = loadConfig(process.env)
  if (config.jwt.secretGenerated) {
    // Outside production the server invents a random secret when none is set; a token signed
    // with another random secret would be refused by every server, so refuse to print one.
    throw new ConfigError('MCP_JWT_SECRET_KEY',
      'is not set (nor JWT_SECRET_KEY): set it to the secret the server uses; a token signed with a random secret would be useless')
  }
  return config
}

function main (): number {
  let args
  try {
    args = parseArguments(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`${error.message}\n\n${USAGE}\n`)
    return EXIT_USAGE
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  let token: string
  try {
    const config = signingConfig()
    token = signToken(config.jwt, { sub: args.sub, roles: args.roles, tenant: args.tenant, ttlSeconds: args.ttl })
  } catch (error) {
    const reason = error instanceof ConfigError ? error.message : (error as Error).message
    process.stderr.write(`Refusing to issue a token: ${reason}\n`)
    return EXIT_REFUSED
  }
  const expires = new Date(Date.now() + args.ttl * 1000).toISOString()
  process.stderr.write(`Token for ${args.sub} (${args.roles.join(', ')}) in tenant ${args.tenant}, expires ${expires}\n`)
  process.stdout.write(`${token}\n`)
  return 0
}

process.exitCode = main()
