// Builds the MCP server instance of the context store: its identity, capabilities, tools and
// resources. One definition serves both protocol eras: a fresh instance per request for the
// current protocol, one long-lived instance per session for the 2025 protocol.
import { McpServer } from '@modelcontextprotocol/server'
import { registerContextPrompts } from './context-prompts.js'
import { registerContextResources } from './context-resources.js'
import { registerContextTools, type ContextToolDeps } from './context-tools.js'

export interface ContextServerDeps extends ContextToolDeps {
  /** The server version reported to hosts. */
  version: string
}

const INSTRUCTIONS = [
  'A shared, token-budgeted context store that several AI agents read and write.',
  'Read with get_context (the best-ranked entries) or query_context (filters); both return at most',
  'max_tokens of content and a manifest of what was left out. Write with update_context; clear_context',
  'and set_priority manage entries. The same data is available as resources (context://snapshot,',
  'context://entries/{key}) with change notifications. Before a task, query_context with relevant_to',
  '(your task in a sentence) or the with_context prompt returns the entries most relevant to it.'
].join(' ')

/**
 * A new MCP server over the store. `subscriptions` is given for a 2025-protocol session, whose
 * host subscribes to resource URIs with resources/subscribe.
 */
export function createContextMcpServer (deps: ContextServerDeps, options: { subscriptions?: Set<string> } = {}): McpServer {
  const server = new McpServer({ name: 'context-server', title: 'Context server', version: deps.version }, {
    // The tool set never changes; resources come and go with the store's keys.
    capabilities: { tools: { listChanged: false }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: false } },
    instructions: INSTRUCTIONS
  })
  registerContextTools(server, deps)
  registerContextResources(server, deps.store, options)
  registerContextPrompts(server, deps)
  return server
}
