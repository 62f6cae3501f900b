// MCP_PUBLIC_URL names the server in the MCP resource id and the OAuth metadata, so a value that is
// no http(s) URL stops the server at start, naming the variable, like every other bad value.
import { test } from 'tap'
import { ConfigError } from '../../src/config.js'
import { testConfig } from '../helpers/config.js'

test('MCP_PUBLIC_URL must be an http or https URL', async (t) => {
  t.equal(testConfig({ MCP_PUBLIC_URL: 'https://ctx.example.com/' }).publicUrl, 'https://ctx.example.com/')
  t.equal(testConfig({ MCP_PUBLIC_URL: 'http://10.0.0.5:9877' }).publicUrl, 'http://10.0.0.5:9877')
  t.equal(testConfig({ MCP_PUBLIC_URL: '' }).publicUrl, undefined, 'empty means unset')
  for (const bad of ['ctx.example.com', 'ftp://ctx.example.com', 'https://', 'http:// spaced.example']) {
    t.throws(() => testConfig({ MCP_PUBLIC_URL: bad }), new ConfigError('MCP_PUBLIC_URL', 'must be an http:// or https:// URL'), bad)
  }
})
