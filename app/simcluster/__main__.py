"""`python -m app.simcluster up|down|status`: the simulated cluster from the command line."""

import argparse
import json
import sys
from pathlib import Path

from app.simcluster import control, supervisor
from app.simcluster.latency import PROFILES, Latency
from app.simcluster.layout import DEFAULT_ROOT, Layout
from app.simcluster.processes import StartFailed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.simcluster", description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_ROOT, help="state directory (default .cluster/)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (foreground unless --background)")
    up.add_argument("--background", action="store_true", help="detach and return once ready")
    up.add_argument("--nodes", type=int, default=3, help="fake nodes (default 3)")
    up.add_argument("--apiserver-port", type=int, default=None, help="fixed apiserver port (default: free)")
    up.add_argument(
        "--latency",
        choices=PROFILES,
        default="fast",
        help="fast: pods ready at once (default); realistic: image pulls, start-up, Jobs and "
        "termination take as long as on a real cluster (docs/simulated-cluster.md)",
    )
    up.add_argument(
        "--latency-scale", type=float, default=1.0, help="multiply every realistic delay (e.g. 0.1)"
    )
    sub.add_parser("down", help="stop the cluster")
    sub.add_parser("status", help="print the cluster state")
    args = parser.parse_args(argv)
    layout = Layout(args.dir.resolve())

    if args.command == "up":
        if not 1 <= args.nodes <= 50:
            parser.error("--nodes must be between 1 and 50")
        try:
            latency = Latency(args.latency, args.latency_scale)
        except ValueError as error:
            parser.error(str(error))
        running = control.live_state(layout)
        if running and running.get("status") != "ready":
            dead = ", ".join(running.get("dead", [])) or "a component"
            print(f"simcluster: {dead} had stopped; restarting it (same ports and data)")
            try:
                control.healthy_state(layout)
            except StartFailed as error:
                print(f"simcluster: {error}", file=sys.stderr)
                return 1
            print(f"simcluster: running again; source {layout.env_file}")
            return 0
        if running:
            print(f"simcluster: already running; source {layout.env_file}")
            return 0
        if not args.background:
            return supervisor.run(layout, args.nodes, args.apiserver_port, latency)
        try:
            state = control.start_background(layout, args.nodes, args.apiserver_port, latency)
        except StartFailed as error:
            print(f"simcluster: {error}", file=sys.stderr)
            return 1
        print(f"simcluster: ready in {state['startup_seconds']['total']} s at {state['apiserver']}")
        print(f"simcluster: source {layout.env_file}   (kubectl and helm v4 on PATH, KUBECONFIG set)")
        return 0
    if args.command == "down":
        print("simcluster: stopped" if control.stop(layout) else "simcluster: not running")
        return 0
    state = layout.read_state()
    print(json.dumps(state, indent=2) if state else "simcluster: no state")
    return 0 if control.live_state(layout) else 3


if __name__ == "__main__":
    sys.exit(main())
