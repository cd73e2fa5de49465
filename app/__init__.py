"""Storeplane: provisions e-commerce stores on Kubernetes, one Helm release per namespace."""
