"""A stand-in for the `wp` command (WP-CLI) for testing the chart's setup script.

WordPress with WooCommerce cannot run in CI (no plugin directory to download from), so this fake
keeps a WordPress site's state in a JSON file and answers the WP-CLI commands the setup script uses
with WP-CLI's exit codes and output shapes. Every call is appended to a log so tests can check what
the script did, and FAKE_WP_FAIL="<command words>" makes a matching call fail like WP-CLI does.

It refuses what the real programs refuse, as their sources say (wp-cli/entity-command
src/Option_Command.php, WordPress wp-includes/option.php, WooCommerce 11.0
src/Admin/Features/OnboardingTasks/DeprecatedOptions.php and
src/Database/Migrations/CustomOrderTable/CLIRunner.php):
- `option update`: WP-CLI reports "unchanged" (exit 0) when the new value is identical to
  `get_option()`; otherwise `update_option()` runs the option's `pre_update_option_*` filters and
  returns false when the filtered value equals the old one, and WP-CLI exits 1 with
  "Could not update option". WooCommerce's deprecated task-list options are such a case: their
  filter does the work elsewhere and hands back the old value.
- `option get` of a missing option exits 1; deprecated aliases read through `pre_option_*`.
- `wc hpos enable` refuses while legacy orders are not copied to the HPOS tables.

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
        "core_version": "7.1",
        "options": {},
        "users": {},
        "plugins": {},
        "themes": {"twentytwentyfive": {"version": "1.2", "active": True}},
        "products": {},
        "next_id": 10,
        # Orders kept in legacy post storage, and whether HPOS is authoritative.
        "legacy_orders": 0,
        "hpos": False,
    }


# WooCommerce's deprecated options (DeprecatedOptions.php): alias -> (current list option, list id).
DEPRECATED_TASK_LIST_OPTIONS = {
    "woocommerce_task_list_hidden": ("woocommerce_task_list_hidden_lists", "setup"),
    "woocommerce_extended_task_list_hidden": ("woocommerce_task_list_hidden_lists", "extended"),
    "woocommerce_task_list_complete": ("woocommerce_task_list_completed_lists", "setup"),
}


def wc_active(state: dict[str, Any]) -> bool:
    return bool(state["plugins"].get("woocommerce", {}).get("active"))


def get_option(state: dict[str, Any], name: str) -> Any:
    """get_option(): None stands for WordPress's `false` (no such option)."""
    if wc_active(state) and name in DEPRECATED_TASK_LIST_OPTIONS:
        current, list_id = DEPRECATED_TASK_LIST_OPTIONS[name]
        lists = state["options"].get(current, [])
        return "yes" if isinstance(lists, list) and list_id in lists else "no"
    return state["options"].get(name)


def pre_update_filters(state: dict[str, Any], name: str, value: Any, old: Any) -> Any:
    """The `pre_update_option_{name}` filters WooCommerce registers for the options we touch."""
    if wc_active(state) and name in DEPRECATED_TASK_LIST_OPTIONS:
        current, list_id = DEPRECATED_TASK_LIST_OPTIONS[name]
        lists = [x for x in state["options"].get(current, []) if x != list_id]
        if value == "yes":
            lists.append(list_id)
        state["options"][current] = lists
        state["options"].pop(name, None)
        return old
    return value


def update_option(state: dict[str, Any], name: str, value: Any) -> str:
    """WP-CLI's `option update` around WordPress's update_option()."""
    if name in ("siteurl", "home"):
        value = value.rstrip("/")
    old = get_option(state, name)
    if value == old and type(value) is type(old):
        return f"Success: Value passed for '{name}' option is unchanged."
    value = pre_update_filters(state, name, value, old)
    if value == old or json.dumps(value) == json.dumps(old):
        raise WpError(f"Could not update option '{name}'.")
    state["options"][name] = value
    return f"Success: Updated '{name}' option."


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
        return update_option(state, name, value)
    if head == "option get":
        value = get_option(state, words[2])
        if value is None:
            raise WpError(f"Could not get '{words[2]}' option. Does it exist?")
        return json.dumps(value) if flags.get("format") == "json" else str(value)
    if head == "option list":
        if flags.get("format") != "count" or "search" not in flags:
            raise WpError("the fake knows only `option list --search=<name> --format=count`")
        return "1" if flags["search"] in state["options"] else "0"
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
    if words[:3] == ["cron", "event", "run"]:
        if "due-now" not in flags:
            raise WpError("Please specify one or more cron events, or use --due-now/--all.")
        return "Success: Executed a total of 0 cron events."
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
    if words[:2] == ["wc", "hpos"]:
        if not wc_active(state):
            raise WpError("'wc' is not a registered wp command. See 'wp help' for available commands.")
        return hpos(state, words[2])
    raise WpError(f"'{' '.join(words)}' is not a command the fake knows")


def hpos(state: dict[str, Any], verb: str) -> str:
    """`wp wc hpos ...` as CLIRunner.php words it (only what the setup script calls)."""
    pending = 0 if state["hpos"] else state["legacy_orders"]
    if verb == "status":
        return "\n".join(
            [
                f"HPOS enabled?: {'yes' if state['hpos'] else 'no'}",
                "Compatibility mode enabled?: no",
                f"Unsynced orders: {pending}",
                "Orders subject to cleanup: 0",
            ]
        )
    if verb == "count_unmigrated":
        if pending == 1:
            return "There is 1 order to be synced."
        return f"There are {pending} orders to be synced."
    if verb == "sync":
        state["synced_orders"] = state["legacy_orders"]
        return f"Success: {state['legacy_orders']} orders were synced."
    if verb == "enable":
        if state["legacy_orders"] > state.get("synced_orders", 0) and not state["hpos"]:
            raise WpError(
                "[Failed] There are orders pending sync. Please run `wp wc hpos sync` to sync pending"
                " orders.\nError: HPOS pre-checks failed, please see the errors above"
            )
        if state["hpos"]:
            return "Running pre-enable checks...\nWarning: HPOS is already enabled."
        state["hpos"] = True
        return "Running pre-enable checks...\nSuccess: HPOS enabled."
    raise WpError(f"unknown hpos command {verb}")


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
        # Side effects before the refusal stay, as in the database (e.g. a filter's own writes).
        STATE.write_text(json.dumps(state))
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
