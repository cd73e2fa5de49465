// Places one real order through a Medusa store's Store API and finds it in the admin API
// (`helm test`, and the native end-to-end tests run this same file):
//   storefront page (publishable key) -> region -> product -> cart -> line item -> e-mail and
//   addresses -> shipping options -> shipping method -> payment collection -> payment session
//   (system provider) -> complete -> admin login -> the order in GET /admin/orders.
// On failure it exits 1 with "order test FAILED at step '<step>': <reason>" and the response body.
// The last line on success is "PASS: order #<display_id> (<id>) ..."; the line before it is
// "RESULT <json>" for programs.
//
// Needs Node >= 20 (global fetch) and nothing else, so it runs in the store's own image.
//   STORE_URL        base URL, e.g. http://shop-medusa (required)
//   ADMIN_EMAIL      admin user's e-mail (required)
//   ADMIN_PASSWORD   admin user's password (required; never printed)
//   REQUEST_TIMEOUT  seconds per request (default 30)

const base = (process.env.STORE_URL || "").replace(/\/+$/, "")
const adminEmail = process.env.ADMIN_EMAIL || ""
const adminPassword = process.env.ADMIN_PASSWORD || ""
const timeoutMs = Number(process.env.REQUEST_TIMEOUT || 30) * 1000

class StepFailed extends Error {
  constructor(step, reason, body) {
    super(reason)
    this.step = step
    this.body = body
  }
}

function fail(step, reason, body) {
  throw new StepFailed(step, reason, body)
}

// request: one HTTP call; answers {status, body (parsed JSON or text), text}.
async function request(step, method, path, { key, token, json } = {}) {
  const headers = { Accept: "application/json" }
  if (key) headers["x-publishable-api-key"] = key
  if (token) headers.Authorization = `Bearer ${token}`
  if (json !== undefined) headers["Content-Type"] = "application/json"
  let response
  try {
    response = await fetch(base + path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const cause = error.cause ? `${error.message}: ${error.cause.message || error.cause}` : error.message
    fail(step, `${method} ${base}${path} did not complete: ${cause}`)
  }
  const text = await response.text()
  let body = text
  try {
    body = text ? JSON.parse(text) : {}
  } catch {
    // not JSON: keep the text (the storefront page is HTML)
  }
  return { status: response.status, body, text }
}

// expect: the response has one of the statuses, else the step fails with the body.
function expect(step, response, ...statuses) {
  if (!statuses.includes(response.status)) {
    fail(step, `HTTP ${response.status}, expected ${statuses.join(" or ")}`, response.text)
  }
  return response.body
}

function ok(step, what) {
  console.log(`ok   ${step}: ${what}`)
}

async function placeOrder() {
  let step = "configuration"
  if (!base) fail(step, "STORE_URL is required, e.g. http://shop-medusa")
  if (!adminEmail || !adminPassword) fail(step, "ADMIN_EMAIL and ADMIN_PASSWORD are required (the store's Secret)")

  step = "storefront"
  const page = await request(step, "GET", "/")
  expect(step, page, 200)
  const match = /<meta name="storeplane-publishable-key" content="([^"]+)"/.exec(page.text)
  if (!match) fail(step, "the storefront page carries no publishable API key", page.text)
  const key = match[1]
  ok(step, "the page is served with a publishable API key")

  step = "list regions"
  const { regions } = expect(step, await request(step, "GET", "/store/regions", { key }), 200)
  if (!Array.isArray(regions) || regions.length === 0) fail(step, "the store has no region")
  const region = regions[0]
  const country = region.countries?.[0]?.iso_2
  if (!country) fail(step, `region ${region.id} has no country`)
  ok(step, `${region.name} (${region.currency_code}, ships to ${country})`)

  step = "list products"
  const productQuery = new URLSearchParams({ region_id: region.id, fields: "*variants.calculated_price" })
  const { products } = expect(step, await request(step, "GET", `/store/products?${productQuery}`, { key }), 200)
  const product = (products || []).find((p) => p.variants?.some((v) => v.calculated_price))
  if (!product) {
    fail(step, products?.length ? `none of ${products.length} products has a price in ${region.currency_code}` : "the catalogue is empty")
  }
  const variant = product.variants.find((v) => v.calculated_price)
  ok(step, `${product.title} at ${variant.calculated_price.calculated_amount} ${region.currency_code}`)

  step = "create cart"
  let { cart } = expect(step, await request(step, "POST", "/store/carts", { key, json: { region_id: region.id } }), 200)
  if (!cart?.id) fail(step, "no cart id in the response")
  ok(step, cart.id)

  step = "add line item"
  ;({ cart } = expect(
    step,
    await request(step, "POST", `/store/carts/${cart.id}/line-items`, { key, json: { variant_id: variant.id, quantity: 1 } }),
    200
  ))
  if (!cart.items?.length) fail(step, "the cart is still empty")
  ok(step, `${cart.items.length} line(s)`)

  step = "set email and addresses"
  const address = {
    first_name: "Store",
    last_name: "Verifier",
    address_1: "1 Test Street",
    city: "Springfield",
    postal_code: "12345",
    country_code: country,
  }
  ;({ cart } = expect(
    step,
    await request(step, "POST", `/store/carts/${cart.id}`, {
      key,
      json: { email: "verify@storeplane.test", shipping_address: address, billing_address: address },
    }),
    200
  ))
  if (cart.email !== "verify@storeplane.test") fail(step, `the cart's e-mail is ${JSON.stringify(cart.email)}`)
  ok(step, `ship to ${address.city}, ${country}`)

  step = "list shipping options"
  const { shipping_options: options } = expect(
    step,
    await request(step, "GET", `/store/shipping-options?cart_id=${encodeURIComponent(cart.id)}`, { key }),
    200
  )
  if (!options?.length) fail(step, `no shipping option for ${country}`)
  ok(step, options.map((o) => o.name).join(", "))

  step = "add shipping method"
  ;({ cart } = expect(
    step,
    await request(step, "POST", `/store/carts/${cart.id}/shipping-methods`, { key, json: { option_id: options[0].id } }),
    200
  ))
  if (!cart.shipping_methods?.length) fail(step, "the cart has no shipping method")
  ok(step, options[0].name)

  step = "create payment collection"
  const { payment_collection: collection } = expect(
    step,
    await request(step, "POST", "/store/payment-collections", { key, json: { cart_id: cart.id } }),
    200
  )
  if (!collection?.id) fail(step, "no payment collection id")
  ok(step, collection.id)

  step = "create payment session"
  const session = expect(
    step,
    await request(step, "POST", `/store/payment-collections/${collection.id}/payment-sessions`, {
      key,
      json: { provider_id: "pp_system_default" },
    }),
    200
  )
  const sessions = session.payment_collection?.payment_sessions || []
  if (!sessions.some((s) => s.provider_id === "pp_system_default")) fail(step, "no session with pp_system_default")
  ok(step, "system payment provider")

  step = "complete cart"
  const completed = expect(step, await request(step, "POST", `/store/carts/${cart.id}/complete`, { key }), 200)
  // A refused payment still answers 200, with {type: "cart", error}: only type "order" is an order.
  if (completed.type !== "order" || !completed.order?.id) {
    fail(step, `no order: type ${JSON.stringify(completed.type)}, error ${JSON.stringify(completed.error?.message ?? null)}`)
  }
  const order = completed.order
  ok(step, `order #${order.display_id} (${order.id})`)

  step = "admin login"
  const login = expect(
    step,
    await request(step, "POST", "/auth/user/emailpass", { json: { email: adminEmail, password: adminPassword } }),
    200
  )
  if (typeof login.token !== "string" || !login.token) fail(step, "the login answered no token")
  ok(step, adminEmail)

  step = "order in admin API"
  const orderQuery = new URLSearchParams({ id: order.id, fields: "id,display_id,email,status,payment_status,total" })
  const { orders } = expect(step, await request(step, "GET", `/admin/orders?${orderQuery}`, { token: login.token }), 200)
  const seen = (orders || []).find((o) => o.id === order.id)
  if (!seen) fail(step, `order ${order.id} is not in GET /admin/orders`)
  if (seen.display_id !== order.display_id || seen.email !== "verify@storeplane.test") {
    fail(step, `the admin API shows #${seen.display_id} for ${seen.email}`)
  }
  ok(step, `#${seen.display_id} ${seen.status}, payment ${seen.payment_status}`)
  return seen
}

try {
  const order = await placeOrder()
  console.log(`RESULT ${JSON.stringify({ id: order.id, display_id: order.display_id, status: order.status })}`)
  console.log(`PASS: order #${order.display_id} (${order.id}) placed through the Store API and seen in the admin API`)
} catch (error) {
  if (!(error instanceof StepFailed)) {
    console.error(`order test FAILED at step 'unexpected': ${error.stack || error}`)
    process.exit(1)
  }
  console.error(`order test FAILED at step '${error.step}': ${error.message}`)
  if (error.body) {
    console.error("response body (first 2000 bytes):")
    console.error(String(error.body).slice(0, 2000))
  }
  process.exit(1)
}
