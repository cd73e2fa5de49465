//go:build tools

// Package tools pins sigs.k8s.io/kwok/cmd/kwok at the version in versions.env.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
