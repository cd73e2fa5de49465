// The store's set-up, run by scripts/setup.sh after the migrations (`medusa exec`). Idempotent: every
// step looks for what it would create (by a stable name, handle or e-mail) and creates only what is
// missing, then converges what the values may change (store name, currency, countries, prices,
// the admin password). Run it twice and the second run changes nothing.
//
// Each step prints "ok   <step>: <what>"; a failure ends the script with
// "setup FAILED at step '<step>': <reason>" (and `medusa exec` exits 1), so the Job's log and the
// store's events say which step broke. Secrets (the admin password) are never printed.
import type { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, FeatureFlag, Modules, ProductStatus } from "@medusajs/framework/utils"
import {
  createApiKeysWorkflow,
  createInventoryLevelsWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createSalesChannelsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  createUsersWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateProductVariantsWorkflow,
  updateProductsWorkflow,
  updateRegionsWorkflow,
  updateShippingOptionsWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"

// Stable names: they are how a second run finds what the first one made.
export const NAMES = {
  salesChannel: "Default Sales Channel",
  region: "Storeplane region",
  stockLocation: "Storeplane warehouse",
  fulfillmentSet: "Storeplane delivery",
  serviceZone: "Storeplane shipping zone",
  shippingProfile: "Default Shipping Profile",
  publishableKey: "Storeplane storefront",
}

type Config = ReturnType<typeof readConfig>

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback
  if (value === undefined || value === "") {
    throw new SetupError("configuration", `${name} is not set`)
  }
  return value
}

function amount(name: string, fallback?: string): number {
  const text = env(name, fallback)
  const value = Number(text)
  if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(text) || !Number.isFinite(value)) {
    throw new SetupError("configuration", `${name} must be a decimal amount like 19.99, not ${JSON.stringify(text)}`)
  }
  return value
}

export function readConfig() {
  const countries = env("STORE_COUNTRIES", "us")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
  if (!countries.every((c) => /^[a-z]{2}$/.test(c))) {
    throw new SetupError("configuration", `STORE_COUNTRIES must be ISO 3166 alpha-2 codes, not ${countries.join(",")}`)
  }
  const currency = env("STORE_CURRENCY", "usd").toLowerCase()
  if (!/^[a-z]{3}$/.test(currency)) {
    throw new SetupError("configuration", `STORE_CURRENCY must be an ISO 4217 code, not ${currency}`)
  }
  const stock = Number(env("PRODUCT_STOCK", "100"))
  if (!Number.isInteger(stock) || stock < 1) {
    throw new SetupError("configuration", "PRODUCT_STOCK must be a positive integer")
  }
  return {
    title: env("STORE_TITLE", "Storeplane store"),
    currency,
    countries,
    shippingName: env("SHIPPING_OPTION_NAME", "Standard shipping"),
    shippingPrice: amount("SHIPPING_PRICE", "5"),
    product: {
      title: env("PRODUCT_TITLE", "Storeplane T-shirt"),
      handle: env("PRODUCT_HANDLE", "storeplane-tshirt"),
      sku: env("PRODUCT_SKU", "storeplane-tshirt"),
      price: amount("PRODUCT_PRICE", "19.99"),
      stock,
    },
    admin: { email: env("ADMIN_EMAIL"), password: env("ADMIN_PASSWORD") },
  }
}

export class SetupError extends Error {
  constructor(
    readonly step: string,
    reason: string
  ) {
    super(`setup FAILED at step '${step}': ${reason}`)
  }
}

async function step<T>(name: string, action: () => Promise<[T, string]>): Promise<T> {
  let result: [T, string]
  try {
    result = await action()
  } catch (error) {
    if (error instanceof SetupError) {
      throw error
    }
    throw new SetupError(name, error instanceof Error ? error.message : String(error))
  }
  console.log(`ok   ${name}: ${result[1]}`)
  return result[0]
}

export default async function setup({ container }: ExecArgs) {
  let config: Config
  try {
    config = readConfig()
  } catch (error) {
    console.error((error as Error).message)
    throw error
  }
  try {
    await run(container, config)
  } catch (error) {
    // medusa exec logs the error too, with a stack; this line is the one people and tests read.
    console.error((error as Error).message)
    throw error
  }
  console.log("setup complete")
}

async function run(container: ExecArgs["container"], config: Config) {
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const storeModule = container.resolve(Modules.STORE)
  const salesChannelModule = container.resolve(Modules.SALES_CHANNEL)
  const regionModule = container.resolve(Modules.REGION)
  const taxModule = container.resolve(Modules.TAX)
  const stockLocationModule = container.resolve(Modules.STOCK_LOCATION)
  const fulfillmentModule = container.resolve(Modules.FULFILLMENT)
  const apiKeyModule = container.resolve(Modules.API_KEY)
  const productModule = container.resolve(Modules.PRODUCT)
  const inventoryModule = container.resolve(Modules.INVENTORY)
  const userModule = container.resolve(Modules.USER)
  const authModule = container.resolve(Modules.AUTH)

  const salesChannel = await step("sales channel", async () => {
    const [found] = await salesChannelModule.listSalesChannels({ name: NAMES.salesChannel })
    if (found) {
      return [found, `${found.id} exists`]
    }
    const { result } = await createSalesChannelsWorkflow(container).run({
      input: { salesChannelsData: [{ name: NAMES.salesChannel }] },
    })
    return [result[0], `created ${result[0].id}`]
  })

  const store = await step("store", async () => {
    const [current] = await storeModule.listStores({}, { relations: ["supported_currencies"] })
    if (!current) {
      throw new Error("Medusa created no default store (the migrations did not run?)")
    }
    const currencies = (current.supported_currencies ?? []).map((c) => `${c.currency_code}${c.is_default ? "*" : ""}`)
    const converged =
      current.name === config.title &&
      current.default_sales_channel_id === salesChannel.id &&
      currencies.length === 1 &&
      currencies[0] === `${config.currency}*`
    if (converged) {
      return [current, `${current.id} "${current.name}" in ${config.currency} is up to date`]
    }
    await updateStoresWorkflow(container).run({
      input: {
        selector: { id: current.id },
        update: {
          name: config.title,
          default_sales_channel_id: salesChannel.id,
          supported_currencies: [{ currency_code: config.currency, is_default: true }],
        },
      },
    })
    return [current, `${current.id} set to "${config.title}" in ${config.currency}`]
  })

  const region = await step("region", async () => {
    const [found] = await regionModule.listRegions({ name: NAMES.region }, { relations: ["countries"] })
    const wanted = [...config.countries].sort()
    if (!found) {
      const { result } = await createRegionsWorkflow(container).run({
        input: {
          regions: [
            {
              name: NAMES.region,
              currency_code: config.currency,
              countries: config.countries,
              payment_providers: ["pp_system_default"],
            },
          ],
        },
      })
      return [result[0], `created ${result[0].id} (${wanted.join(", ")}, ${config.currency}, system payment)`]
    }
    const have = (found.countries ?? []).map((c) => c.iso_2).sort()
    if (found.currency_code === config.currency && have.join() === wanted.join()) {
      return [found, `${found.id} is up to date (${wanted.join(", ")}, ${config.currency})`]
    }
    await updateRegionsWorkflow(container).run({
      input: {
        selector: { id: found.id },
        update: { currency_code: config.currency, countries: config.countries, payment_providers: ["pp_system_default"] },
      },
    })
    return [found, `${found.id} changed to ${wanted.join(", ")} in ${config.currency}`]
  })

  await step("tax regions", async () => {
    const existing = await taxModule.listTaxRegions({ country_code: config.countries, parent_id: null })
    const have = new Set(existing.map((t) => t.country_code))
    const missing = config.countries.filter((c) => !have.has(c))
    if (missing.length) {
      await createTaxRegionsWorkflow(container).run({
        input: missing.map((country_code) => ({ country_code, provider_id: "tp_system" })),
      })
    }
    return [null, missing.length ? `created for ${missing.join(", ")}` : "all exist"]
  })

  const stockLocation = await step("stock location", async () => {
    let [location] = await stockLocationModule.listStockLocations({ name: NAMES.stockLocation })
    let what = `${location?.id} exists`
    if (!location) {
      const { result } = await createStockLocationsWorkflow(container).run({
        input: {
          locations: [{ name: NAMES.stockLocation, address: { address_1: "", country_code: config.countries[0].toUpperCase() } }],
        },
      })
      location = result[0]
      what = `created ${location.id}`
    }
    if (store.default_location_id !== location.id) {
      await updateStoresWorkflow(container).run({
        input: { selector: { id: store.id }, update: { default_location_id: location.id } },
      })
    }
    return [location, what]
  })

  const linked = await step("stock location links", async () => {
    const { data } = await query.graph({
      entity: "stock_location",
      fields: ["id", "fulfillment_providers.id", "fulfillment_sets.id", "fulfillment_sets.name", "sales_channels.id"],
      filters: { id: stockLocation.id },
    })
    const current = data[0] as any
    const made: string[] = []
    if (!(current.fulfillment_providers ?? []).some((p: any) => p?.id === "manual_manual")) {
      await link.create({
        [Modules.STOCK_LOCATION]: { stock_location_id: stockLocation.id },
        [Modules.FULFILLMENT]: { fulfillment_provider_id: "manual_manual" },
      })
      made.push("manual fulfillment provider")
    }
    if (!(current.sales_channels ?? []).some((c: any) => c?.id === salesChannel.id)) {
      await linkSalesChannelsToStockLocationWorkflow(container).run({
        input: { id: stockLocation.id, add: [salesChannel.id] },
      })
      made.push("sales channel")
    }
    const sets = (current.fulfillment_sets ?? []).filter((s: any) => s?.name === NAMES.fulfillmentSet)
    return [sets.map((s: any) => s.id) as string[], made.length ? `linked ${made.join(" and ")}` : "all in place"]
  })

  const shippingProfile = await step("shipping profile", async () => {
    const [found] = await fulfillmentModule.listShippingProfiles({ type: "default" })
    if (found) {
      return [found, `${found.id} exists`]
    }
    const { result } = await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: NAMES.shippingProfile, type: "default" }] },
    })
    return [result[0], `created ${result[0].id}`]
  })

  const serviceZone = await step("fulfillment set", async () => {
    let [set] = await fulfillmentModule.listFulfillmentSets(
      { name: NAMES.fulfillmentSet },
      { relations: ["service_zones", "service_zones.geo_zones"] }
    )
    const made: string[] = []
    if (!set) {
      set = await fulfillmentModule.createFulfillmentSets({
        name: NAMES.fulfillmentSet,
        type: "shipping",
        service_zones: [
          { name: NAMES.serviceZone, geo_zones: config.countries.map((country_code) => ({ country_code, type: "country" as const })) },
        ],
      })
      set = (
        await fulfillmentModule.listFulfillmentSets({ id: set.id }, { relations: ["service_zones", "service_zones.geo_zones"] })
      )[0]
      made.push(`created ${set.id}`)
    }
    if (!linked.includes(set.id)) {
      await link.create({
        [Modules.STOCK_LOCATION]: { stock_location_id: stockLocation.id },
        [Modules.FULFILLMENT]: { fulfillment_set_id: set.id },
      })
      made.push("linked to the stock location")
    }
    const zone = set.service_zones.find((z) => z.name === NAMES.serviceZone)
    if (!zone) {
      throw new Error(`fulfillment set ${set.id} has no service zone named ${NAMES.serviceZone}`)
    }
    const covered = new Set((zone.geo_zones ?? []).map((g) => g.country_code))
    const missing = config.countries.filter((c) => !covered.has(c))
    if (missing.length) {
      await fulfillmentModule.createGeoZones(
        missing.map((country_code) => ({ service_zone_id: zone.id, country_code, type: "country" as const }))
      )
      made.push(`shipping to ${missing.join(", ")} added`)
    }
    return [zone, made.length ? made.join(", ") : `${set.id} is up to date`]
  })

  await step("shipping option", async () => {
    const [found] = await fulfillmentModule.listShippingOptions(
      { name: config.shippingName, service_zone: { id: serviceZone.id } },
      { relations: ["rules"] }
    )
    const prices = [
      { currency_code: config.currency, amount: config.shippingPrice },
      { region_id: region.id, amount: config.shippingPrice },
    ]
    if (!found) {
      const { result } = await createShippingOptionsWorkflow(container).run({
        input: [
          {
            name: config.shippingName,
            price_type: "flat",
            provider_id: "manual_manual",
            service_zone_id: serviceZone.id,
            shipping_profile_id: shippingProfile.id,
            type: { label: config.shippingName, description: "Delivered in 3-5 days.", code: "standard" },
            prices,
            rules: [
              { attribute: "enabled_in_store", value: "true", operator: "eq" },
              { attribute: "is_return", value: "false", operator: "eq" },
            ],
          },
        ],
      })
      return [null, `created ${result[0].id} at ${config.shippingPrice} ${config.currency}`]
    }
    const { data } = await query.graph({
      entity: "shipping_option",
      fields: ["id", "prices.amount", "prices.currency_code", "prices.price_rules.attribute"],
      filters: { id: found.id },
    })
    const current = ((data[0] as any)?.prices ?? []) as any[]
    const upToDate =
      current.length === prices.length && current.every((p) => Number(p.amount) === config.shippingPrice) &&
      current.some((p) => p.currency_code === config.currency)
    if (upToDate) {
      return [null, `${found.id} is up to date`]
    }
    await updateShippingOptionsWorkflow(container).run({ input: [{ id: found.id, prices }] })
    return [null, `${found.id} repriced to ${config.shippingPrice} ${config.currency}`]
  })

  await step("publishable API key", async () => {
    let [key] = await apiKeyModule.listApiKeys({ title: NAMES.publishableKey, type: "publishable", revoked_at: null })
    let what = `${key?.id} exists`
    if (!key) {
      const { result } = await createApiKeysWorkflow(container).run({
        input: { api_keys: [{ title: NAMES.publishableKey, type: "publishable", created_by: "storeplane-setup" }] },
      })
      key = result[0]
      what = `created ${key.id}`
    }
    const { data } = await query.graph({
      entity: "api_key",
      fields: ["id", "sales_channels.id"],
      filters: { id: key.id },
    })
    const channels = ((data[0] as any)?.sales_channels ?? []).map((c: any) => c?.id)
    if (!channels.includes(salesChannel.id)) {
      await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: key.id, add: [salesChannel.id] } })
      what += ", linked to the sales channel"
    }
    return [key, what]
  })

  const variant = await step("product", async () => {
    const p = config.product
    const [found] = await productModule.listProducts({ handle: p.handle }, { relations: ["variants"] })
    if (!found) {
      const { result } = await createProductsWorkflow(container).run({
        input: {
          products: [
            {
              title: p.title,
              handle: p.handle,
              description: "Soft cotton, printed with the Storeplane logo.",
              status: ProductStatus.PUBLISHED,
              shipping_profile_id: shippingProfile.id,
              options: [{ title: "Size", values: ["One size"] }],
              variants: [
                {
                  title: "One size",
                  sku: p.sku,
                  manage_inventory: true,
                  options: { Size: "One size" },
                  prices: [{ amount: p.price, currency_code: config.currency }],
                },
              ],
              sales_channels: [{ id: salesChannel.id }],
            },
          ],
        },
      })
      const created = await productModule.listProductVariants({ product_id: result[0].id })
      return [created[0], `created ${result[0].id} "${p.title}" at ${p.price} ${config.currency}`]
    }
    const current = found.variants.find((v) => v.sku === p.sku)
    if (!current) {
      throw new Error(`product ${found.id} (${p.handle}) has no variant with SKU ${p.sku}`)
    }
    const changes: string[] = []
    if (found.title !== p.title || found.status !== ProductStatus.PUBLISHED) {
      await updateProductsWorkflow(container).run({
        input: { selector: { id: found.id }, update: { title: p.title, status: ProductStatus.PUBLISHED } },
      })
      changes.push(`title "${p.title}"`)
    }
    const { data } = await query.graph({
      entity: "product_variant",
      fields: ["id", "prices.amount", "prices.currency_code"],
      filters: { id: current.id },
    })
    const prices = ((data[0] as any)?.prices ?? []) as any[]
    if (!(prices.length === 1 && prices[0].currency_code === config.currency && Number(prices[0].amount) === p.price)) {
      await updateProductVariantsWorkflow(container).run({
        input: { selector: { id: current.id }, update: { prices: [{ amount: p.price, currency_code: config.currency }] } },
      })
      changes.push(`price ${p.price} ${config.currency}`)
    }
    return [current, changes.length ? `${found.id} updated: ${changes.join(", ")}` : `${found.id} is up to date`]
  })

  await step("stock", async () => {
    const { data } = await query.graph({
      entity: "product_variant",
      fields: ["id", "inventory_items.inventory_item_id"],
      filters: { id: variant.id },
    })
    const itemId = (data[0] as any)?.inventory_items?.[0]?.inventory_item_id
    if (!itemId) {
      throw new Error(`variant ${variant.id} has no inventory item`)
    }
    const levels = await inventoryModule.listInventoryLevels({ inventory_item_id: itemId, location_id: stockLocation.id })
    if (levels.length) {
      // Stock that exists is the shop's: orders decrement it and a re-run must not refill it.
      return [null, `${levels[0].stocked_quantity} in stock at ${stockLocation.id}`]
    }
    await createInventoryLevelsWorkflow(container).run({
      input: {
        inventory_levels: [
          { inventory_item_id: itemId, location_id: stockLocation.id, stocked_quantity: config.product.stock },
        ],
      },
    })
    return [null, `${config.product.stock} put in stock at ${stockLocation.id}`]
  })

  await step("admin user", async () => {
    const { email, password } = config.admin
    const [user] = await userModule.listUsers({ email })
    const [identity] = await authModule.listProviderIdentities({ entity_id: email, provider: "emailpass" })
    if (user && identity) {
      // The password comes from the store's Secret: set it again so the two always agree.
      const updated = await authModule.updateProvider("emailpass", { entity_id: email, password })
      if (!updated.success) {
        throw new Error(`cannot set the password of ${email}: ${updated.error}`)
      }
      return [null, `${email} exists, password set from the Secret`]
    }
    let userId = user?.id
    if (!userId) {
      const roles: string[] = []
      if (FeatureFlag.isFeatureEnabled("rbac")) {
        roles.push("role_super_admin")
      }
      const { result } = await createUsersWorkflow(container).run({
        input: { users: [{ email, ...(roles.length ? { roles } : {}) }] } as any,
      })
      userId = result[0].id
    }
    const registered = await authModule.register("emailpass", { body: { email, password } } as any)
    if (!registered.success || !registered.authIdentity) {
      throw new Error(`cannot register ${email}: ${registered.error}`)
    }
    await authModule.updateAuthIdentities({ id: registered.authIdentity.id, app_metadata: { user_id: userId } })
    return [null, `created ${email}`]
  })
}
