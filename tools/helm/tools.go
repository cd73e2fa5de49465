//go:build tools

// Package tools pins helm.sh/helm/v4/cmd/helm at the version in versions.env.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
