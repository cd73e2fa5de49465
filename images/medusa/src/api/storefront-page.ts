// The storefront's page and assets, served by this Medusa process on the store's own host: `/` is the
// shop, `/storefront/<asset>` its script and stylesheet, `/store` the Store API the script calls and
// `/app` the admin. No build step and no CDN: three static files under storefront/, and the page
// carries the publishable API key (public by design: every storefront sends it) and the store's name.
import fs from "fs"
import path from "path"

import type { MedusaRequest } from "@medusajs/framework/http"
import { Modules } from "@medusajs/framework/utils"

export const STOREFRONT_DIR = path.resolve(__dirname, "..", "..", "storefront")
export const ASSETS: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
}
// The key src/scripts/setup.ts creates; kept in step with NAMES.publishableKey there.
const KEY_TITLE = "Storeplane storefront"

let cachedKey: string | null = null

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

// The key is looked up once and then kept: it only changes if someone revokes it in the admin,
// and then a restart (or the next set-up, which creates a new one) picks up the new key.
async function publishableKey(req: MedusaRequest): Promise<string | null> {
  if (cachedKey) {
    return cachedKey
  }
  const apiKeys = req.scope.resolve(Modules.API_KEY)
  const [key] = await apiKeys.listApiKeys({ title: KEY_TITLE, type: "publishable", revoked_at: null })
  cachedKey = key?.token ?? null
  return cachedKey
}

async function storeName(req: MedusaRequest): Promise<string> {
  const [store] = await req.scope.resolve(Modules.STORE).listStores({}, { select: ["name"] })
  return store?.name || "Store"
}

export async function renderPage(req: MedusaRequest): Promise<{ status: number; html: string }> {
  const key = await publishableKey(req)
  if (!key) {
    const html =
      "<!doctype html><meta charset=utf-8><title>Opening soon</title>" +
      "<p>This store is still being set up. Please come back in a minute.</p>"
    return { status: 503, html }
  }
  const template = await fs.promises.readFile(path.join(STOREFRONT_DIR, "index.html"), "utf8")
  const html = template
    .replaceAll("{{STORE_NAME}}", escapeHtml(await storeName(req)))
    .replaceAll("{{PUBLISHABLE_KEY}}", escapeHtml(key))
  return { status: 200, html }
}
