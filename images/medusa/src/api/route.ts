// GET / : the storefront page (see storefront-page.ts).
import type { MedusaRequest, MedusaResponse } from "@medusajs/framework/http"

import { renderPage } from "./storefront-page"

export async function GET(req: MedusaRequest, res: MedusaResponse) {
  const { status, html } = await renderPage(req)
  res.status(status).set({
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    // Only our own script, style and API: no third party can be pulled into the checkout.
    "Content-Security-Policy":
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
      "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
  })
  res.send(html)
}
