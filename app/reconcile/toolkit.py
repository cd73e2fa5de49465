"""The Helm driver and Kubernetes access the store actions use, built once per cluster settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.helm import HelmDriver
from app.kube import Kube, get_kube
from app.settings import Settings, get_settings


@dataclass(frozen=True)
class Toolkit:
    settings: Settings
    helm: HelmDriver
    kube: Kube


@lru_cache(maxsize=8)
def _helm(helm_binary: str, kubeconfig: str, kube_context: str, history_max: int) -> HelmDriver:
    return HelmDriver(
        Settings(
            helm_binary=helm_binary,
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            helm_history_max=history_max,
        )
    )


def toolkit(settings: Settings | None = None) -> Toolkit:
    """Default: app.settings.get_settings(). Tests pass their own Settings (cluster, chart)."""
    settings = settings or get_settings()
    helm = _helm(settings.helm_binary, settings.kubeconfig, settings.kube_context, settings.helm_history_max)
    return Toolkit(settings=settings, helm=helm, kube=get_kube(settings))
