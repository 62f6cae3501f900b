// The MCP prompt `with_context`: the best context for a task, within a token budget, as a ready
// prompt. It is query_context with `relevant_to: task` (the same budgeted read, the same ranking),
// rendered for a model to read rather than for a program to parse.
import type { GetPromptResult, McpServer } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { MAX_RELEVANT_TO_CHARS } from '../relevance/relevance-index.js'
import type { ContextStore } from '../store/context-store.js'
import { actorOf } from './auth-info.js'
import { budgetedRead, DEFAULT_RESULT_TOKENS, type Manifest } from './result-budget.js'

// Prompt arguments are strings on the wire (MCP prompts/get), so the budget is digits.
export const withContextArgsSchema = z.object({
  task: z.string().min(1).max(MAX_RELEVANT_TO_CHARS).describe('What you are about to do, in a sentence or two'),
  max_tokens: z.string().regex(/^\d{1,7}$/, 'must be a whole number of tokens').optional()
    .describe(`Content budget in tokens (default ${DEFAULT_RESULT_TOKENS})`)
})

export interface ContextPromptDeps {
  store: ContextStore
  countTokens: (text: string) => number
}

/** Registers the with_context prompt. */
export function registerContextPrompts (server: McpServer, deps: ContextPromptDeps): void {
  server.registerPrompt('with_context', {
    title: 'Context for a task',
    description: 'The entries of the shared context store most relevant to your task (ranked by relevance, then ' +
      'priority and recency), within max_tokens of content, as a prompt ready to send.',
    argsSchema: withContextArgsSchema
  }, (args, ctx) => {
    const maxTokens = args.max_tokens !== undefined ? Number(args.max_tokens) : DEFAULT_RESULT_TOKENS
    const { tenant } = actorOf(ctx)
    const read = budgetedRead(deps.store, tenant, { relevant_to: args.task }, { maxTokens, countTokens: deps.countTokens },
      (data, manifest, scores) => ({ data, manifest, scores: scores ?? {} }))
    return promptFor(args.task, read.structured)
  })
}

interface Rendered { data: Record<string, unknown>, manifest: Manifest, scores: Record<string, number> }

/** The prompt text: the task, each entry under a heading (best first), then what was left out. */
export function promptFor (task: string, { data, manifest, scores }: Rendered): GetPromptResult {
  const lines = [
    `Task: ${task}`,
    '',
    `Context from the shared store, most relevant first: ${manifest.returned} of ${manifest.matched} entries, ` +
      `${manifest.returned_tokens} tokens of content (budget ${manifest.budget_tokens ?? 'none'}).`
  ]
  for (const key of Object.keys(data)) {
    const entry = data[key] as { content: unknown, source: string, priority: number, timestamp: string }
    lines.push('', `## ${JSON.stringify(key)} (relevance ${scores[key] ?? 0}, priority ${entry.priority}, source ${entry.source}, ${entry.timestamp})`,
      JSON.stringify(entry.content))
  }
  if (manifest.omitted_count > 0) {
    lines.push('', `Left out for the budget: ${manifest.omitted_count} entries (${manifest.omitted_tokens} tokens). ` +
      `Best of them (read with query_context and keys): ${manifest.omitted.map((item) => JSON.stringify(item.key)).join(', ')}.`)
  }
  if (manifest.returned === 0) lines.push('', 'The store holds nothing for this task yet.')
  return {
    description: `Context for: ${task.length > 80 ? `${task.slice(0, 77)}...` : task}`,
    messages: [{ role: 'user', content: { type: 'text', text: lines.join('\n') } }]
  }
}
