// The storefront: a catalogue, a cart and a guest checkout on Medusa's Store API (`/store`, same
// origin), with the system payment provider (manual payment, captured later by the shop). No
// framework and no build step; the page's <meta> carries the publishable API key.
"use strict";

(function () {
  const KEY = document.querySelector('meta[name="storeplane-publishable-key"]').content;
  const CART_KEY = "storeplane.cart";
  const $ = (id) => document.getElementById(id);
  let region = null;
  let cart = null;

  // --- the Store API -----------------------------------------------------------------------------

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: {
        "x-publishable-api-key": KEY,
        Accept: "application/json",
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
    const text = await response.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch (_) {
      data = { message: text.slice(0, 200) };
    }
    if (!response.ok) {
      const error = new Error(data.message || `${method} ${path} failed with HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // --- showing things ----------------------------------------------------------------------------

  function money(amount, currency) {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() }).format(amount);
  }

  function say(text) {
    const box = $("message");
    box.textContent = text;
    box.hidden = !text;
  }

  function show(...ids) {
    for (const id of ["catalogue", "cart", "delivery", "confirmation"]) {
      $(id).hidden = !ids.includes(id);
    }
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function renderCart() {
    const count = cart ? cart.items.reduce((n, item) => n + item.quantity, 0) : 0;
    $("cart-count").textContent = String(count);
    $("cart-button").disabled = count === 0;
    if (!cart) return;
    const lines = $("cart-lines");
    lines.replaceChildren(
      ...cart.items.map((item) =>
        element(
          "tr",
          { class: "line" },
          element("td", { text: item.product_title || item.title }),
          element("td", { text: String(item.quantity) }),
          element("td", { text: money(item.total ?? item.unit_price * item.quantity, cart.currency_code) })
        )
      )
    );
    $("cart-subtotal").textContent = money(cart.item_subtotal ?? cart.subtotal ?? 0, cart.currency_code);
    $("cart-total").textContent = money(cart.total ?? 0, cart.currency_code);
  }

  function renderProducts(products) {
    const list = $("products");
    list.setAttribute("aria-busy", "false");
    if (!products.length) {
      list.replaceChildren(element("li", { class: "muted", text: "Nothing for sale yet." }));
      return;
    }
    list.replaceChildren(
      ...products.map((product) => {
        const variant = product.variants[0];
        const price = variant && variant.calculated_price;
        const button = element("button", { type: "button", class: "add-to-cart", text: "Add to cart" });
        button.disabled = !price;
        button.addEventListener("click", () => addToCart(variant.id, button));
        return element(
          "li",
          { class: "product", "data-handle": product.handle },
          element("h3", { text: product.title }),
          element("p", { class: "muted", text: product.description || "" }),
          element("p", {
            class: "price",
            text: price ? money(price.calculated_amount, price.currency_code || region.currency_code) : "Not available",
          }),
          button
        );
      })
    );
  }

  // --- what a shopper does -----------------------------------------------------------------------

  async function loadCatalogue() {
    const { regions } = await api("GET", "/store/regions");
    if (!regions.length) throw new Error("This store sells nowhere yet (it has no region).");
    region = regions[0];
    $("country").replaceChildren(
      ...region.countries.map((c) => element("option", { value: c.iso_2, text: c.display_name || c.iso_2.toUpperCase() }))
    );
    const query = new URLSearchParams({ region_id: region.id, fields: "*variants.calculated_price", limit: "50" });
    const { products } = await api("GET", `/store/products?${query}`);
    renderProducts(products);
  }

  async function restoreCart() {
    const id = localStorage.getItem(CART_KEY);
    if (!id) return;
    try {
      const found = (await api("GET", `/store/carts/${encodeURIComponent(id)}`)).cart;
      cart = found.completed_at ? null : found;
    } catch (error) {
      cart = null; // gone or completed: start a new one on the next add
    }
    if (!cart) localStorage.removeItem(CART_KEY);
    renderCart();
  }

  async function addToCart(variantId, button) {
    button.disabled = true;
    say("");
    try {
      if (!cart) {
        cart = (await api("POST", "/store/carts", { region_id: region.id })).cart;
        localStorage.setItem(CART_KEY, cart.id);
      }
      cart = (await api("POST", `/store/carts/${cart.id}/line-items`, { variant_id: variantId, quantity: 1 })).cart;
      renderCart();
      button.textContent = "Added ✓";
    } catch (error) {
      say(`Could not add it to the cart: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function openCart() {
    renderCart();
    const form = $("address-form");
    if (cart.email) form.elements.email.value = cart.email;
    show("catalogue", "cart");
    $("cart").scrollIntoView();
  }

  async function saveAddress(event) {
    event.preventDefault();
    const form = event.target;
    const field = (name) => form.elements[name].value.trim();
    const address = {
      first_name: field("first_name"),
      last_name: field("last_name"),
      address_1: field("address_1"),
      city: field("city"),
      postal_code: field("postal_code"),
      country_code: field("country_code"),
    };
    say("");
    $("to-delivery").disabled = true;
    try {
      cart = (
        await api("POST", `/store/carts/${cart.id}`, {
          email: field("email"),
          shipping_address: address,
          billing_address: address,
        })
      ).cart;
      const { shipping_options: options } = await api(
        "GET",
        `/store/shipping-options?cart_id=${encodeURIComponent(cart.id)}`
      );
      if (!options.length) throw new Error("we do not ship to that address yet");
      const fieldset = $("shipping-options");
      fieldset.replaceChildren(
        element("legend", { text: "Shipping" }),
        ...options.map((option, index) => {
          const input = element("input", { type: "radio", name: "shipping", value: option.id });
          input.checked = index === 0;
          input.addEventListener("change", () => chooseShipping(option.id));
          const price = option.calculated_price ? option.calculated_price.calculated_amount : option.amount;
          return element(
            "label",
            { class: "choice" },
            input,
            `${option.name} — ${money(price, cart.currency_code)}`
          );
        })
      );
      // The first option is chosen at once, so the total shown includes its price.
      await chooseShipping(options[0].id);
      show("cart", "delivery");
      $("delivery").scrollIntoView();
    } catch (error) {
      say(`Could not save the address: ${error.message}`);
    } finally {
      $("to-delivery").disabled = false;
    }
  }

  async function chooseShipping(optionId) {
    $("place-order").disabled = true;
    try {
      cart = (await api("POST", `/store/carts/${cart.id}/shipping-methods`, { option_id: optionId })).cart;
      renderCart();
    } catch (error) {
      say(`Could not choose that shipping option: ${error.message}`);
    } finally {
      $("place-order").disabled = false;
    }
  }

  async function placeOrder(event) {
    event.preventDefault();
    const form = event.target;
    const option = form.elements.shipping && form.querySelector('input[name="shipping"]:checked');
    if (!option) {
      say("Choose a shipping option.");
      return;
    }
    const provider = form.querySelector('input[name="payment"]:checked').value;
    say("");
    $("place-order").disabled = true;
    try {
      if (!(cart.shipping_methods || []).some((m) => m.shipping_option_id === option.value)) {
        cart = (await api("POST", `/store/carts/${cart.id}/shipping-methods`, { option_id: option.value })).cart;
      }
      const { payment_collection: collection } = await api("POST", "/store/payment-collections", {
        cart_id: cart.id,
      });
      await api("POST", `/store/payment-collections/${collection.id}/payment-sessions`, { provider_id: provider });
      const result = await api("POST", `/store/carts/${cart.id}/complete`);
      // A refused payment still answers 200, with the cart and an error instead of an order.
      if (result.type !== "order") {
        throw new Error((result.error && result.error.message) || "the order was not accepted");
      }
      localStorage.removeItem(CART_KEY);
      cart = null;
      renderCart();
      $("order-number").textContent = `#${result.order.display_id}`;
      $("order-number").dataset.orderId = result.order.id;
      $("order-email").textContent = result.order.email;
      show("confirmation");
    } catch (error) {
      say(`Could not place the order: ${error.message}`);
    } finally {
      $("place-order").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("cart-button").addEventListener("click", openCart);
    $("address-form").addEventListener("submit", saveAddress);
    $("checkout-form").addEventListener("submit", placeOrder);
    try {
      await loadCatalogue();
      await restoreCart();
    } catch (error) {
      say(`The shop cannot be shown right now: ${error.message}`);
    }
  });
})();
