// Preloaded into servers the tests spawn (test/helpers/spawn-server.ts): their stdin is a pipe from
// the test process, and it ends when that process dies, even by SIGKILL or a tap timeout, which
// run no teardown. Exiting then keeps a killed test run from leaving servers behind that hold
// ports and burn CPU for the next run. Unref'd, so it never keeps a server alive by itself.
process.stdin.on('end', () => { process.exit(1) })
process.stdin.on('error', () => { process.exit(1) })
process.stdin.resume()
;(process.stdin as unknown as { unref?: () => void }).unref?.()
