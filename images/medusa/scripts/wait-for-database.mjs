// Waits until PostgreSQL at DATABASE_URL accepts a connection and answers a query, for at most
// WAIT_SECONDS (default 120). Exits 0 when it does, 1 otherwise, printing the last error (never the
// URL, which carries the password).
import pg from "pg"

const url = process.env.DATABASE_URL
const limit = Number(process.env.WAIT_SECONDS || 120) * 1000
if (!url) {
  console.error("DATABASE_URL is not set")
  process.exit(1)
}

const started = Date.now()
let lastError = "no attempt"
while (Date.now() - started < limit) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    await client.end()
    console.log(`PostgreSQL answered after ${((Date.now() - started) / 1000).toFixed(1)} s`)
    process.exit(0)
  } catch (error) {
    lastError = error instanceof Error ? error.message : String(error)
    await client.end().catch(() => {})
  }
  await new Promise((resolve) => setTimeout(resolve, 1000))
}
console.error(`PostgreSQL did not answer: ${lastError}`)
process.exit(1)
