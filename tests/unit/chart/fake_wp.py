"""A stand-in for the `wp` command (WP-CLI) for testing the chart's setup script.

WordPress with WooCommerce cannot run here (no plugin directory to download from), so this fake
keeps a WordPress site's state in a JSON file and answers the WP-CLI commands the setup script uses
with WP-CLI's exit codes and output shapes. Every call is appended to a log so tests can check what
the script did, and FAKE_WP_FAIL="<command words>" makes a matching call fail like WP-CLI does.

Run as: python fake_wp.py <wp arguments>, with FAKE_WP_STATE and FAKE_WP_LOG set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

STATE = Path(os.environ["FAKE_WP_STATE"])
LOG = Path(os.environ["FAKE_WP_LOG"])


class WpError(Exception):
    pass


def load() -> dict[str, Any]:
    if STATE.exists():
        return json.loads(STATE.read_text())
    return {
        "installed": False,
        "core_version": "6.8.3",
        "options": {},
        "users": {},
        "plugins": {},
        "themes": {"twentytwentyfive": {"version": "1.2", "active": True}},
        "products": {},
        "next_id": 10,
    }


def split(args: list[str]) -> tuple[list[str], dict[str, str]]:
    positional, flags = [], {}
    for arg in args:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            flags[key] = value
        else:
            positional.append(arg)
    return positional, flags


def require_wc(state: dict[str, Any], flags: dict[str, str]) -> None:
    if not state["plugins"].get("woocommerce", {}).get("active"):
        raise WpError("'wc' is not a registered wp command. See 'wp help' for available commands.")
    if flags.get("user") not in state["users"]:
        raise WpError("Sorry, you are not allowed to do that.")


def run(state: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    head = " ".join(words[:2])
    if head == "core is-installed":
        if not state["installed"]:
            raise SystemExit(1)
        return ""
    if head == "core install":
        state["installed"] = True
        state["options"].update(
            {
                "blogname": flags["title"],
                "home": flags["url"],
                "siteurl": flags["url"],
                "admin_email": flags["admin_email"],
                "permalink_structure": "",
            }
        )
        state["users"][flags["admin_user"]] = {
            "id": 1,
            "role": "administrator",
            "pass": flags["admin_password"],
        }
        return "Success: WordPress installed successfully."
    if not state["installed"] and words[0] not in ("core",):
        raise WpError("The site you have requested is not installed.")
    if head == "core version":
        return state["core_version"]
    if head == "core update":
        state["core_version"] = flags["version"]
        return "Success: WordPress updated successfully."
    if head == "core update-db":
        return "Success: WordPress database already at latest db version."
    if head == "option update":
        name, value = words[2], words[3]
        if flags.get("format") == "json":
            value = json.loads(value)
        unchanged = state["options"].get(name) == value
        state["options"][name] = value
        return (
            f"Success: Value passed for '{name}' option is unchanged."
            if unchanged
            else f"Success: Updated '{name}' option."
        )
    if head == "option get":
        if words[2] not in state["options"]:
            raise WpError(f"Could not get '{words[2]}' option. Does it exist?")
        return str(state["options"][words[2]])
    if head == "option pluck":
        value = state["options"].get(words[2], {})
        if not isinstance(value, dict) or words[3] not in value:
            raise WpError(f'No data exists for key "{words[3]}"')
        return str(value[words[3]])
    if head == "user get":
        user = state["users"].get(words[2])
        if user is None:
            raise WpError("Invalid user ID, email or login: '" + words[2] + "'")
        return str(user["id"])
    if head == "user create":
        state["users"][words[2]] = {
            "id": len(state["users"]) + 1,
            "role": flags["role"],
            "pass": flags["user_pass"],
        }
        return f"Success: Created user {len(state['users'])}."
    if head == "rewrite structure":
        state["options"]["permalink_structure"] = words[2]
        return f"Success: Rewrite structure set to '{words[2]}'."
    if head == "rewrite flush":
        return "Success: Rewrite rules flushed."
    if words[0] in ("plugin", "theme"):
        return package(state, words, flags)
    if head == "wc update":
        require_wc(state, {"user": next(iter(state["users"]))})
        return "Success: No updates required. Database is up to date."
    if words[:3] == ["wc", "payment_gateway", "update"]:
        require_wc(state, flags)
        settings = state["options"].setdefault("woocommerce_cod_settings", {"enabled": "no"})
        settings["enabled"] = "yes" if flags.get("enabled") == "true" else "no"
        return "Success: Updated payment_gateway cod."
    if words[:2] == ["wc", "product"]:
        require_wc(state, flags)
        return product(state, words[2:], flags)
    raise WpError(f"'{' '.join(words)}' is not a command the fake knows")


def package(state: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    kind, verb = words[0], words[1]
    store = state[f"{kind}s"]
    slug = words[2] if len(words) > 2 else ""
    if verb == "is-installed":
        if slug not in store:
            raise SystemExit(1)
        return ""
    if verb == "is-active":
        if not store.get(slug, {}).get("active"):
            raise SystemExit(1)
        return ""
    if verb == "get":
        if slug not in store:
            raise WpError(f"The '{slug}' {kind} could not be found.")
        return store[slug]["version"]
    if verb == "install":
        if slug.startswith("http"):
            name = slug.rsplit("/", 1)[-1].split(".")[0]
            version = ".".join(slug.rsplit("/", 1)[-1].split(".")[1:-1])
            slug = name
        else:
            version = flags["version"]
        if slug in store and "force" not in flags:
            return f"Warning: {slug} {kind} already installed."
        store[slug] = {"version": version, "active": store.get(slug, {}).get("active", False)}
        return f"Success: Installed 1 of 1 {kind}s."
    if verb == "activate":
        if kind == "theme":
            for other in store.values():
                other["active"] = False
        store[slug]["active"] = True
        if slug == "woocommerce":
            state["options"].setdefault("woocommerce_coming_soon", "yes")
        return f"Success: Activated 1 of 1 {kind}s."
    raise WpError(f"unknown {kind} command {verb}")


def product(state: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    products = state["products"]
    if words[0] == "list":
        ids = [pid for pid, p in products.items() if p["sku"] == flags.get("sku")]
        return "\n".join(ids)
    if words[0] == "create":
        if any(p["sku"] == flags["sku"] for p in products.values()):
            raise WpError("Invalid or duplicated SKU.")
        pid = str(state["next_id"])
        state["next_id"] += 1
        products[pid] = {k: v for k, v in flags.items() if k not in ("user", "porcelain")}
        return pid if "porcelain" in flags else f"Success: Created product {pid}."
    if words[0] == "update":
        products[words[1]].update({k: v for k, v in flags.items() if k != "user"})
        return f"Success: Updated product {words[1]}."
    raise WpError(f"unknown product command {words[0]}")


def main() -> int:
    args = sys.argv[1:]
    words, flags = split(args)
    with LOG.open("a") as log:
        log.write(json.dumps(args) + "\n")
    failing = os.environ.get("FAKE_WP_FAIL", "")
    if failing and " ".join(words).startswith(failing):
        print(f"Error: Download failed. Failed to download {failing}.", file=sys.stderr)
        return 1
    if not Path("wp-config.php").is_file():
        print("Error: 'wp-config.php' not found.", file=sys.stderr)
        return 1
    state = load()
    try:
        out = run(state, words, flags)
    except WpError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except SystemExit as done:
        STATE.write_text(json.dumps(state))
        return int(done.code or 0)
    STATE.write_text(json.dumps(state))
    if out:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
