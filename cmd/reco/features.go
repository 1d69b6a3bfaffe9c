package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/featureview"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/offlinecfg"
)

const featuresUsage = `Usage: reco features history --entities FILE.csv|.parquet --features VIEW:NAME,... --out FILE.csv|.parquet [--data DIR]

Point-in-time join against the offline store: for each entity row (the
view's entity column and timestamp: Unix ms or RFC 3339), the latest value
of each feature at or before the timestamp and within the view's TTL.
Writes the entity and timestamp columns plus one column per feature (empty =
missing).

Views: user_features (5-minute windows, user_id), product_features (daily
snapshots, product_id), and the history of every view in feature_views
(entity column <entity>_id: user_id, product_id, session_id, category_id,
user_category_id). The shipped user_features and product_features views'
history is views.user_features and views.product_features.
`

func cmdFeatures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "history" {
		fmt.Fprint(stderr, featuresUsage)
		if len(args) == 0 {
			return errors.New("features: no subcommand given (want history)")
		}
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return nil
		}
		return fmt.Errorf("features: unknown subcommand %q (want history)", args[0])
	}
	fs := newFlags("features history", stderr)
	entities := fs.String("entities", "", "entity rows: CSV or Parquet with the view's entity column and timestamp")
	features := fs.String("features", "", "features to join: VIEW:NAME,... (one view)")
	out := fs.String("out", "", "output file: .csv or .parquet")
	cfg, _, err := config.Load(fs, args[1:], os.Getenv, configAliases)
	if err != nil {
		return err
	}
	switch {
	case *entities == "":
		return errors.New("features history: --entities is required")
	case *features == "":
		return errors.New("features history: --features is required")
	case *out == "":
		return errors.New("features history: --out is required")
	}
	outFmt, err := fileFormat(*out)
	if err != nil {
		return fmt.Errorf("features history: --out: %w", err)
	}
	inFmt, err := fileFormat(*entities)
	if err != nil {
		return fmt.Errorf("features history: --entities: %w", err)
	}
	store, err := offlinecfg.Open(ctx, cfg.OfflineStore, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("features history: open offline store: %w", err)
	}
	if store, err = withDeclaredViews(store, cfg.FeatureViews); err != nil {
		return fmt.Errorf("features history: %w", err)
	}
	view, names, err := offline.ParseFeatureRefs(*features, store.Views())
	if err != nil {
		return fmt.Errorf("features history: --features: %w", err)
	}
	start := time.Now()
	ent, err := readEntities(*entities, inFmt, view.Entity)
	if err != nil {
		return fmt.Errorf("features history: %s: %w", *entities, err)
	}
	res, err := store.PointInTime(ctx, view.Name, names, ent.Rows)
	if err != nil {
		return fmt.Errorf("features history: %w", err)
	}
	if err := writeResult(*out, outFmt, view.Entity, names, ent, res); err != nil {
		return fmt.Errorf("features history: write %s: %w", *out, err)
	}
	matched := 0
	for _, m := range res.Matched {
		if m {
			matched++
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %d rows, %d with %s features, %d without (in %s)\n", *out, len(ent.Rows), matched,
		view.Name, len(ent.Rows)-matched, time.Since(start).Round(time.Millisecond))
	return nil
}

// withDeclaredViews adds the history of the views feature_views declares
// (the shipped ones too) to store's views, as reco serve writes them.
func withDeclaredViews(store *offline.Store, c featureview.Config) (*offline.Store, error) {
	views, _, err := c.Resolve(os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("feature_views: %w", err)
	}
	ov, err := featureview.OfflineViews(views)
	if err != nil {
		return nil, fmt.Errorf("feature_views: %w", err)
	}
	return store.WithViews(ov...)
}

func fileFormat(name string) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return "csv", nil
	case ".parquet":
		return "parquet", nil
	}
	return "", fmt.Errorf("%s: want a .csv or .parquet file", name)
}

func readEntities(name, format, keyCol string) (*offline.Entities, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if format == "csv" {
		return offline.ReadEntitiesCSV(f, keyCol)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return offline.ReadEntitiesParquet(f, st.Size(), keyCol)
}

// writeResult writes to a temp file beside name, then renames it.
func writeResult(name, format, keyCol string, features []string, ent *offline.Entities, res *offline.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".reco-history-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if format == "csv" {
		err = offline.WriteResultCSV(tmp, keyCol, features, ent, res)
	} else {
		err = offline.WriteResultParquet(tmp, keyCol, features, ent, res)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
