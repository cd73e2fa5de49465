// Command composecheck loads Compose files with compose-go, the loader `docker compose` itself uses
// (schema validation, interpolation, YAML anchors and merges, override files), and prints the
// resulting project as JSON, or the loader's error and exit status 1. Tests read the JSON
// (tests/unit/platform/test_compose.py); no Docker engine is involved.
//
//	composecheck -C <dir> docker-compose.yml [docker-compose.kind.yml ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	dir := flag.String("C", ".", "working directory (relative paths in the files resolve against it)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [-C dir] compose.yml [override.yml ...]")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		flag.Args(),
		cli.WithWorkingDirectory(*dir),
		cli.WithOsEnv,
		cli.WithName("storeplane"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
