package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/offlinecfg"
)

func cmdCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compact", stderr)
	view := fs.String("view", "", "compact only this view or event set (events, late_events); default all")
	before := fs.String("before", "", "compact only partitions dated before YYYY-MM-DD (default today, UTC: complete days)")
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	if *before == "" {
		*before = time.Now().UTC().Format(time.DateOnly)
	} else if _, err := offline.UTCDate(*before); err != nil {
		return fmt.Errorf("compact: --before %q: want YYYY-MM-DD", *before)
	}
	store, err := offlinecfg.Open(ctx, cfg.OfflineStore, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("compact: open offline store: %w", err)
	}
	if store, err = withDeclaredViews(store, cfg.FeatureViews); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	o := offline.CompactOptions{Before: *before, Progress: func(p offline.CompactProgress) {
		if p.Skipped {
			if p.Deleted > 0 {
				fmt.Fprintf(stderr, "  %s: removed %d replaced files\n", p.Partition, p.Deleted)
			}
			return
		}
		fmt.Fprintf(stderr, "  %s: %d files (%d bytes) -> 1 (%d bytes), %d rows\n", p.Partition, p.FilesIn, p.BytesIn, p.BytesOut, p.Rows)
	}}
	if *view != "" {
		o.Datasets = []string{*view}
	}
	start := time.Now()
	st, err := store.Compact(ctx, o)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Fprintf(stdout, "compacted %d of %d partitions before %s: %d files -> %d, %d rows, %d -> %d bytes, %d files deleted (%s)\n",
		st.Merged, st.Partitions, *before, st.FilesIn, st.FilesOut, st.Rows, st.BytesIn, st.BytesOut, st.Deleted,
		time.Since(start).Round(time.Millisecond))
	return nil
}

// materializeLedger remembers which archive files were loaded, so that
// materialize is incremental.
type materializeLedger struct {
	Files map[string]int64 `json:"files"` // archive file key -> events loaded from it
}

const ledgerFile = "offline-materialize.json"

// cmdMaterialize backfills the online state from the offline events
// archive: archived events with times in [start, end) that the log does not
// hold are appended to the log (the embedded online store is built by
// replaying it). Archive files already loaded (the ledger) are skipped.
func cmdMaterialize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("materialize", stderr)
	startS := fs.String("start", "", "first event time to load (Unix ms or RFC 3339; default: no bound)")
	endS := fs.String("end", "", "end of the event times to load, exclusive (default: no bound)")
	full := fs.Bool("full", false, "ignore the ledger: consider every archive file again (events the log holds are still skipped)")
	force := fs.Bool("force", false, "load even though log retention has dropped records (their effect may already be in the checkpointed state)")
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	from, to := int64(0), int64(1)<<62
	if *startS != "" {
		if from, err = offline.ParseTime(*startS); err != nil {
			return fmt.Errorf("materialize: --start: %w", err)
		}
	}
	if *endS != "" {
		if to, err = offline.ParseTime(*endS); err != nil {
			return fmt.Errorf("materialize: --end: %w", err)
		}
	}
	if to <= from {
		return errors.New("materialize: --end must be after --start")
	}
	store, err := offlinecfg.Open(ctx, cfg.OfflineStore, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("materialize: open offline store: %w", err)
	}
	a, err := openEmbedded("materialize", cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Log.Close()
	for p := 0; p < a.Log.Partitions(); p++ {
		if a.Log.StartOffset(p) > 0 && !*force {
			return fmt.Errorf("materialize: log partition %d no longer starts at 0 (retention): the checkpointed state already counts the dropped events, so loading them again would count them twice; use --force only if the state lacks them", p)
		}
	}
	ledgerPath := filepath.Join(cfg.DataDir, ledgerFile)
	ledger := materializeLedger{Files: map[string]int64{}}
	if data, err := os.ReadFile(ledgerPath); err == nil && !*full {
		if err := json.Unmarshal(data, &ledger); err != nil {
			return fmt.Errorf("materialize: %s: %w", ledgerPath, err)
		}
		if ledger.Files == nil {
			ledger.Files = map[string]int64{}
		}
	}
	// What the log holds: a multiset of event fingerprints (every field but
	// the ingest time, which a re-ingest changes).
	seed := maphash.MakeSeed()
	inLog := map[uint64]int{}
	logged := 0
	for p := 0; p < a.Log.Partitions(); p++ {
		r, err := a.Log.NewReader(p, a.Log.StartOffset(p))
		if err != nil {
			return fmt.Errorf("materialize: read log: %w", err)
		}
		var rec event.Record
		for {
			_, data, ok, err := r.TryNext()
			if err != nil {
				r.Close()
				return fmt.Errorf("materialize: read log partition %d: %w", p, err)
			}
			if !ok {
				break
			}
			if event.Decode(data, &rec) == nil && rec.Kind == event.KindEvent {
				inLog[fingerprint(seed, &rec.Event)]++
				logged++
			}
		}
		r.Close()
	}
	fmt.Fprintf(stderr, "the log holds %d events; reading the archive\n", logged)
	var loaded, skippedLog, skippedFiles, files int
	err = store.ScanEvents(ctx, offline.EventsSet, from, to, func(key string, evs []event.Event) error {
		if _, done := ledger.Files[key]; done {
			skippedFiles++
			return nil
		}
		var batch []event.Event
		for i := range evs {
			fp := fingerprint(seed, &evs[i])
			if inLog[fp] > 0 {
				inLog[fp]--
				skippedLog++
				continue
			}
			batch = append(batch, evs[i])
		}
		for len(batch) > 0 {
			n := min(len(batch), 10000)
			if err := a.IngestEvents(ctx, batch[:n]); err != nil {
				return err
			}
			loaded += n
			batch = batch[n:]
		}
		files++
		ledger.Files[key] = int64(len(evs))
		return nil
	})
	// Record progress even after an error: what was appended is in the log.
	if data, jerr := json.MarshalIndent(ledger, "", " "); jerr == nil {
		tmp := ledgerPath + ".tmp"
		if werr := os.WriteFile(tmp, data, 0o644); werr == nil {
			os.Rename(tmp, ledgerPath)
		}
	}
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	if err := a.Log.Sync(); err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	fmt.Fprintf(stdout, "materialized %d events from %d archive files into the log (%d already in the log, %d files loaded before); the server applies them on start\n",
		loaded, files, skippedLog, skippedFiles)
	return nil
}

func fingerprint(seed maphash.Seed, e *event.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	fmt.Fprintf(&h, "%d\x00%s\x00%s\x00%s\x00%s\x00%g\x00%d\x00%d\x00%d\x00%s\x00%s", e.Type, e.UserID, e.ProductID, e.SessionID,
		e.Category, e.Price, e.Quantity, e.Rating, e.Time, e.RequestID, e.SourceKey)
	return h.Sum64()
}
