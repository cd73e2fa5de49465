//go:build tools

// Package tools pins github.com/rhysd/actionlint/cmd/actionlint, the GitHub Actions workflow checker
// tests/unit/platform/test_release_workflow.py runs on .github/workflows.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
