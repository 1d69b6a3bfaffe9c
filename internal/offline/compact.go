package offline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Compaction merges the small files of a partition into one. It is crash
// safe and idempotent without a separate manifest: the merged file is named
// compact-<hash of its inputs>.parquet and lists every file it replaces in
// its Parquet key-value metadata (reco.inputs, transitively). Readers skip
// any file a compacted file lists, so between writing the merged file and
// deleting the old ones (or if a crashed writer later rewrites a batch it
// had already written) no row is seen twice. Running it again finishes the
// deletes.
const compactPrefix = "compact-"

// CompactOptions select what Compact merges.
type CompactOptions struct {
	// Datasets are view names and event sets; nil means every view and set.
	Datasets []string
	// Before is the first date (YYYY-MM-DD) not compacted; "" means no bound.
	// Keep it at today or earlier so that partitions still being written
	// are left alone.
	Before string
	// MinFiles is the number of live files a partition needs to be merged
	// (0 means 2).
	MinFiles int
	// Progress, if set, is called after each partition.
	Progress func(CompactProgress)
}

// CompactProgress reports one partition's compaction.
type CompactProgress struct {
	Partition         string // its key prefix
	FilesIn, FilesOut int    // live files merged, files written (0 or 1)
	Deleted           int    // files deleted (merged and stale)
	Rows              int64
	BytesIn, BytesOut int64
	Skipped           bool // fewer live files than MinFiles: only stale files deleted
}

// CompactStats sum a Compact run.
type CompactStats struct {
	Partitions, Merged int
	FilesIn, FilesOut  int
	Deleted            int
	Rows               int64
	BytesIn, BytesOut  int64
}

// Compact merges small files partition by partition. Safe to run while
// writers write other batches; two Compact runs on the same store at once
// are not supported.
func (s *Store) Compact(ctx context.Context, o CompactOptions) (CompactStats, error) {
	if o.MinFiles <= 0 {
		o.MinFiles = 2
	}
	var prefixes []string
	if o.Datasets == nil {
		for _, v := range s.views {
			prefixes = append(prefixes, viewPrefix(v.Name))
		}
		prefixes = append(prefixes, EventsSet, LateEventsSet)
	} else {
		for _, d := range o.Datasets {
			if _, err := s.View(d); err == nil {
				prefixes = append(prefixes, viewPrefix(d))
			} else if checkSet(d) == nil {
				prefixes = append(prefixes, d)
			} else {
				return CompactStats{}, err
			}
		}
	}
	var st CompactStats
	for _, prefix := range prefixes {
		parts, err := s.partitions(ctx, prefix, "", "")
		if err != nil {
			return st, err
		}
		for _, p := range parts {
			if o.Before != "" && p.Date >= o.Before {
				continue
			}
			pr, err := s.compactPartition(ctx, p, o.MinFiles)
			if err != nil {
				return st, fmt.Errorf("compact %s: %w", p.Dir(), err)
			}
			st.Partitions++
			if !pr.Skipped {
				st.Merged++
			}
			st.FilesIn += pr.FilesIn
			st.FilesOut += pr.FilesOut
			st.Deleted += pr.Deleted
			st.Rows += pr.Rows
			st.BytesIn += pr.BytesIn
			st.BytesOut += pr.BytesOut
			if o.Progress != nil {
				o.Progress(pr)
			}
		}
	}
	return st, nil
}

func (s *Store) compactPartition(ctx context.Context, p Partition, minFiles int) (pr CompactProgress, err error) {
	pr.Partition = p.Dir()
	live, stale, err := s.openPartition(ctx, p)
	if err != nil {
		return pr, err
	}
	defer func() {
		for _, f := range live {
			f.close()
		}
	}()
	toDelete := slices.Clone(stale)
	if len(live) < minFiles {
		pr.Skipped = true
	} else {
		var inputs []string
		for _, f := range live {
			inputs = append(inputs, baseName(f.info.Key))
			inputs = append(inputs, f.inputs...)
			pr.BytesIn += f.info.Size
			pr.Rows += f.f.NumRows()
		}
		slices.Sort(inputs)
		inputs = slices.Compact(inputs)
		sum := sha256.Sum256([]byte(strings.Join(inputs, ",")))
		name := compactPrefix + hex.EncodeToString(sum[:8]) + ".parquet"
		data, err := mergeFiles(live, strings.Join(inputs, ","))
		if err != nil {
			return pr, err
		}
		key := p.Dir() + name
		if err := s.b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return pr, fmt.Errorf("write %s: %w", key, err)
		}
		pr.FilesIn, pr.FilesOut, pr.BytesOut = len(live), 1, int64(len(data))
		for _, f := range live {
			if f.info.Key != key {
				toDelete = append(toDelete, f.info)
			}
		}
	}
	// Only now, with the merged file durable, remove what it replaces.
	for _, info := range toDelete {
		if err := s.b.Delete(ctx, info.Key); err != nil {
			return pr, fmt.Errorf("delete %s: %w", info.Key, err)
		}
		pr.Deleted++
	}
	return pr, nil
}

// mergeFiles copies the rows of files (all of one schema) into one file.
func mergeFiles(files []*openFile, inputs string) ([]byte, error) {
	schema := files[0].f.Schema()
	for _, f := range files[1:] {
		if !parquet.EqualNodes(f.f.Schema(), schema) {
			return nil, fmt.Errorf("%s and %s: %w", files[0].info.Key, f.info.Key, errSchema)
		}
	}
	var b bytes.Buffer
	// The schema carries the inputs' encodings; dictMaxBytes bounds their
	// dictionaries here as in encodeRows.
	w := parquet.NewWriter(&b, schema, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.DictionaryMaxBytes(dictMaxBytes), parquet.KeyValueMetadata(inputsKey, inputs))
	buf := make([]parquet.Row, 1024)
	for _, f := range files {
		for _, rg := range f.f.RowGroups() {
			rows := rg.Rows()
			for {
				n, err := rows.ReadRows(buf)
				if n > 0 {
					if _, werr := w.WriteRows(buf[:n]); werr != nil {
						rows.Close()
						return nil, werr
					}
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					rows.Close()
					return nil, fmt.Errorf("read %s: %w", f.info.Key, err)
				}
			}
			rows.Close()
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
