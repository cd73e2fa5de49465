// Medusa configuration of a Storeplane store. Everything comes from the environment the chart (or
// the native test harness) sets; nothing secret has a default, so a store without its generated
// Secret refuses to start instead of running on a well-known key.
import { defineConfig } from "@medusajs/framework/utils"

function required(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} is not set: the store's Secret provides it (see store-chart/templates/medusa)`)
  }
  return value
}

// The store's public URL(s): the storefront, the admin and the Store API are served from the same
// origin, so CORS only has to admit the store's own hosts.
const origins = process.env.STORE_ORIGINS || "http://localhost:9000"

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: required("DATABASE_URL"),
    // The in-cluster PostgreSQL speaks plain TCP on a NetworkPolicy-fenced Service.
    databaseDriverOptions: { connection: { ssl: false } },
    http: {
      storeCors: process.env.STORE_CORS || origins,
      adminCors: process.env.ADMIN_CORS || origins,
      authCors: process.env.AUTH_CORS || origins,
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
    },
    // Medusa marks the admin session cookie Secure in production; over plain HTTP (a laptop
    // cluster without TLS) the browser would drop it, so the store's scheme decides.
    cookieOptions: { secure: origins.split(",")[0].startsWith("https://") },
    // One process serves HTTP and runs the scheduled jobs and subscribers (single replica, no Redis).
    workerMode: "shared",
  },
  admin: {
    // The dashboard is built by `medusa build --admin-only` (the image; `make medusa-deps` for the
    // native tests) and served from ./public/admin. MEDUSA_ADMIN_DISABLED=true runs without it.
    disable: process.env.MEDUSA_ADMIN_DISABLED === "true",
    path: "/app",
  },
})
