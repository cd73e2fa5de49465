"""The simulated cluster: a real Kubernetes control plane built from pinned sources, with KWOK
standing in for kubelets. Used by `make demo`, `make cluster-up` and the test suite."""
