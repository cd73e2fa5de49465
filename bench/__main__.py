"""`python -m bench [name ...]`: run the benchmarks and print their numbers."""

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

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        print(f"== {name}")
        BENCHMARKS[name]([])
