"""Abuse-prevention limits lifted out of the way, for tests and benchmarks about something else
(tests/unit/users covers the limits themselves)."""

LIMITS_LIFTED: dict[str, object] = {
    "max_stores_per_user": 1000,
    "max_stores_global": 10000,
    "max_provisioning_per_user": 1000,
    "ratelimit_mutations_per_user": "100000/minute",
    "ratelimit_mutations_per_ip": "100000/minute",
    # Tests and benchmarks poll stores many times a second.
    "ratelimit_reads_per_user": "1000000/minute",
    "metrics_port": 0,
}


def as_environment(settings: dict[str, object]) -> dict[str, str]:
    """The same settings as STOREPLANE_* variables, for a platform started as a process."""
    return {f"STOREPLANE_{name.upper()}": str(value) for name, value in settings.items()}
