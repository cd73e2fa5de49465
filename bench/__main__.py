"""`python -m bench [name [options]]`: run one benchmark with its options (`python -m bench thousand
--stores 200`), or with no name every benchmark with its defaults, and print their numbers."""

import sys

from bench import (
    api_latency,
    dashboard,
    drift_sweep,
    helm_memory,
    medusa_native,
    memory,
    provision_overhead,
    read_burst,
    realistic,
    rollout,
    thousand,
    worker_scaling,
)

BENCHMARKS = {
    "provision": provision_overhead.main,
    "latency": api_latency.main,
    "memory": memory.main,
    "helm-memory": helm_memory.main,
    "workers": worker_scaling.main,
    "medusa": medusa_native.main,
    "burst": read_burst.main,
    "realistic": realistic.main,
    "rollout": rollout.main,
    "drift": drift_sweep.main,
    "thousand": thousand.main,
    "dashboard": dashboard.main,
}


def runs(argv: list[str]) -> list[tuple[str, list[str]]]:
    """(benchmark, its options): the options after a name are that benchmark's own."""
    if not argv:
        return [(name, []) for name in BENCHMARKS]
    if argv[0] not in BENCHMARKS:
        raise SystemExit(f"unknown benchmark {argv[0]!r}; one of: {', '.join(BENCHMARKS)}")
    return [(argv[0], argv[1:])]


if __name__ == "__main__":
    for name, options in runs(sys.argv[1:]):
        print(f"== {name}")
        BENCHMARKS[name](options)
