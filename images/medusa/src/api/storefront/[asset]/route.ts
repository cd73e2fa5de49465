// GET /storefront/<asset> : the storefront's script and stylesheet, only the files listed in ASSETS.
import fs from "fs"
import path from "path"

import type { MedusaRequest, MedusaResponse } from "@medusajs/framework/http"

import { ASSETS, STOREFRONT_DIR } from "../../storefront-page"

export async function GET(req: MedusaRequest, res: MedusaResponse) {
  const asset = req.params.asset
  const type = Object.prototype.hasOwnProperty.call(ASSETS, asset) ? ASSETS[asset] : undefined
  if (!type) {
    res.status(404).json({ type: "not_found", message: `No storefront asset named ${asset}` })
    return
  }
  const body = await fs.promises.readFile(path.join(STOREFRONT_DIR, asset))
  res.status(200).set({ "Content-Type": type, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff" })
  res.send(body)
}
