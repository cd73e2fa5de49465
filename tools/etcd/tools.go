//go:build tools

// Package tools pins go.etcd.io/etcd/server/v3 at the version in versions.env.
package tools

import _ "go.etcd.io/etcd/server/v3"
