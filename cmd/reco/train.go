package main

import (
	"context"

	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/app"
	"github.com/recohq/reco/internal/config"
)

// openData opens the data dir for an offline command (the server must not
// be running on it).
func openData(cfg config.Config, stderr io.Writer) (*app.App, error) {
	a, err := app.Open(cfg, app.Options{Logger: newLogger(cfg.LogLevel, stderr)})
	if err != nil {
		if reco.KindOf(err) == reco.Conflict {
			return nil, fmt.Errorf("%w (is reco serve running on %s? use POST /v1/models/train on it instead)", err, cfg.DataDir)
		}
		return nil, err
	}
	return a, nil
}

// openEmbedded is openData for commands that read or rebuild the embedded
// log's state on this machine.
func openEmbedded(cmd string, cfg config.Config, stderr io.Writer) (*app.App, error) {
	if cfg.EventLog.Type != "embedded" {
		return nil, fmt.Errorf("%s works on the embedded event log (event_log.type embedded); with Kafka the stream workers of reco serve keep the state", cmd)
	}
	return openData(cfg, stderr)
}

func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	promote := fs.Bool("promote", false, "serve the new version if its evaluation is not worse than the current one's")
	export := fs.String("export", "", "only write the training set as Parquet into this directory (for Spark + XGBoost)")
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	a, err := openData(cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *export != "" {
		if err := os.MkdirAll(*export, 0o755); err != nil {
			return fmt.Errorf("train --export: %w", err)
		}
		rows, queries, source, err := a.Models.Export(ctx, *export)
		if err != nil {
			return fmt.Errorf("train --export: %w", err)
		}
		fmt.Fprintf(stdout, "exported %d rows (%d queries, from %s) to %s as Parquet; columns and the import step in %s/schema.json\n",
			rows, queries, source, *export, *export)
		return nil
	}
	fmt.Fprintf(stderr, "training on the log in %s\n", cfg.DataDir)
	res, err := a.Models.Train(ctx, *promote)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m := res.Meta
	fmt.Fprintf(stdout, "registered model %s (%s, %d trees) in %s\n", m.Version, m.Objective, m.Trees, res.Duration.Round(1e6))
	fmt.Fprintf(stdout, "  data       %s, %d queries from %s to %s\n", res.Source, res.Queries, m.DataFrom.Format("2006-01-02 15:04"), m.DataTo.Format("2006-01-02 15:04"))
	fmt.Fprintf(stdout, "  rows       %d training, %d evaluation (the latest time slice)\n", m.TrainRows, m.ValidRows)
	keys := make([]string, 0, len(m.Metrics))
	for k := range m.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.4f", k, m.Metrics[k]))
	}
	fmt.Fprintf(stdout, "  evaluation %s\n", strings.Join(parts, ", "))
	st, _ := a.Models.Serving()
	if st.Current == m.Version {
		fmt.Fprintf(stdout, "  promoted   serving now (previous: %s)\n", orNone(st.Previous))
	} else {
		fmt.Fprintf(stdout, "  not serving; promote with: reco model promote %s --data %s\n", m.Version, cfg.DataDir)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
