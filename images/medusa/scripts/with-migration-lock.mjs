// Runs a command while holding a PostgreSQL advisory lock, so the web pod's init container and the
// set-up Job never run `medusa db:migrate` at the same time (both start together: the set-up is a
// plain Job, not a hook that waits for the web pod). The second one to get the lock finds every
// migration applied and does nothing. The lock is a session lock: it is released when the command
// ends, or when this process dies and its connection closes.
//   node scripts/with-migration-lock.mjs <command> [args...]
import { spawn } from "node:child_process"
import pg from "pg"

// Any constant; both sides only have to agree. ("MDSA")
const LOCK_KEY = 0x4d445341
const [command, ...args] = process.argv.slice(2)
if (!command || !process.env.DATABASE_URL) {
  console.error("usage: DATABASE_URL=... node with-migration-lock.mjs <command> [args...]")
  process.exit(2)
}

const client = new pg.Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 10000 })
await client.connect()
const waited = Date.now()
await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY])
const seconds = ((Date.now() - waited) / 1000).toFixed(1)
if (Number(seconds) >= 1) console.log(`migration lock taken after waiting ${seconds} s`)
const child = spawn(command, args, { stdio: "inherit" })
const code = await new Promise((resolve) => {
  child.on("exit", (status, signal) => resolve(signal ? 1 : (status ?? 1)))
  child.on("error", (error) => {
    console.error(`cannot run ${command}: ${error.message}`)
    resolve(1)
  })
})
await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {})
await client.end().catch(() => {})
process.exit(code)
