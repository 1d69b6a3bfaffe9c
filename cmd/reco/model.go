package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/modelcli"
)

const modelUsage = `Usage: reco model COMMAND

  train    --train FILE [--valid FILE] --out model.json [...]  train a GBDT from CSV or LibSVM
  predict  --model model.json --data FILE                    one score per line
  inspect  model.json                                        objective, trees, features, importance
  import   FILE [--data DIR] [--promote]                     register an XGBoost JSON model (e.g. trained on Spark)
  list     [--data DIR]                                      registered versions and which serve
  promote  VERSION [--percent P] [--data DIR]                serve a version (canary when 0 < P < 100)
  rollback [--data DIR]                                      serve the previous version again
`

func cmdModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		fmt.Fprint(stdout, modelUsage)
		return nil
	}
	switch args[0] {
	case "import", "list", "promote", "rollback":
		return cmdRegistry(ctx, args[0], args[1:], stdout, stderr)
	}
	return modelcli.Main(ctx, args, stdout, stderr)
}

func cmdRegistry(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model "+sub, stderr)
	percent := fs.Float64("percent", 100, "share of users for a canary (promote)")
	promote := fs.Bool("promote", false, "serve the imported version (import)")
	// Positional arguments may come first: move them after the flags.
	var pos []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		pos = append(pos, args[0])
		args = args[1:]
	}
	cfg, rest, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	pos = append(pos, rest...)
	a, err := openData(cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	reg := a.Models.Registry()
	switch sub {
	case "list":
		vs, err := reg.List()
		if err != nil {
			return err
		}
		st, _ := reg.Serving()
		b, _ := json.MarshalIndent(map[string]any{"serving": st, "versions": vs}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return nil
	case "rollback":
		st, err := a.Models.Rollback()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "serving %s (previous %s)\n", st.Current, orNone(st.Previous))
		return nil
	case "promote":
		if len(pos) != 1 {
			return fmt.Errorf("model promote: want one VERSION, got %d arguments", len(pos))
		}
		st, err := a.Models.Promote(pos[0], *percent)
		if err != nil {
			return err
		}
		if st.Canary != nil {
			fmt.Fprintf(stdout, "canary %s for %.1f%% of users; current %s\n", st.Canary.Version, st.Canary.Percent, orNone(st.Current))
		} else {
			fmt.Fprintf(stdout, "serving %s (previous %s); a running server picks it up within 2 s\n", st.Current, orNone(st.Previous))
		}
		return nil
	case "import":
		if len(pos) != 1 {
			return fmt.Errorf("model import: want one FILE, got %d arguments", len(pos))
		}
		meta, err := a.Models.Import(pos[0])
		if err != nil {
			return fmt.Errorf("model import: %w", err)
		}
		fmt.Fprintf(stdout, "registered %s from %s (%d trees)\n", meta.Version, pos[0], meta.Trees)
		if *promote {
			if _, err := a.Models.Promote(meta.Version, 100); err != nil {
				return fmt.Errorf("model import: promote: %w", err)
			}
			fmt.Fprintf(stdout, "serving %s\n", meta.Version)
		}
		return nil
	}
	return fmt.Errorf("model: unknown command %q", sub)
}
