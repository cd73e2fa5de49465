"""Helm: the only package that imports pyhelm3. See driver.py for the flags and why."""

from app.helm.driver import HelmDriver, resolve_kubeconfig
from app.helm.revision import Revision

__all__ = ["HelmDriver", "Revision", "resolve_kubeconfig"]
