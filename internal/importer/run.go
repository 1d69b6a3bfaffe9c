package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/recohq/reco/internal/event"
)

// Sink is where Run writes: the durable log of a reco data dir
// (app.App satisfies it). Each call must be durable when it returns.
type Sink interface {
	IngestEvents(ctx context.Context, evs []event.Event) error
	UpsertProducts(ctx context.Context, ps []event.Product) error
}

// RunOptions configure Run.
type RunOptions struct {
	Options
	BatchSize int    // events per append; 0 means 5,000
	OnError   string // "skip" (default) or "fail"
	// Ledger is the path of the imports ledger (imports.json in the data dir).
	Ledger string
	// Committed, when the ledger shows an interrupted import of a file,
	// returns the lines of that file already in the log (by SourceKey
	// prefix), so that resuming adds exactly what is missing. nil means
	// trust the ledger alone.
	Committed func(prefix string) (map[int]bool, error)
	// Progress is called about once a second and at the end of each file.
	Progress func(Stats)
	// Malformed is called for every malformed row that is skipped.
	Malformed func(file string, line int, err error)
}

// Stats count one file's rows.
type Stats struct {
	File      string
	Hash      string
	Rows      int // data rows read (this run)
	Accepted  int // events written (this run)
	Skipped   int // rows already imported by an earlier run
	Rejected  map[string]int
	Malformed int
	Products  int
	Already   bool // the whole file was imported before: nothing done
	Resumed   bool // an earlier run stopped part way; this one resumed
	Elapsed   time.Duration
}

// RejectedTotal sums the rejections by reason plus the malformed rows.
func (s Stats) RejectedTotal() int {
	n := s.Malformed
	for _, v := range s.Rejected {
		n += v
	}
	return n
}

// LineError is a malformed row under --on-error fail.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Ledger records, per file content hash, how far its import got.
type Ledger struct {
	Files map[string]*LedgerEntry `json:"files"`
}

// LedgerEntry is one file's import state.
type LedgerEntry struct {
	Path      string    `json:"path"`
	Format    string    `json:"format"`
	Committed int       `json:"committed_line"` // every row up to this line is in the log
	Events    int       `json:"events"`
	Complete  bool      `json:"complete"`
	Updated   time.Time `json:"updated"`
}

// LoadLedger reads the ledger at path; a missing file is an empty ledger.
func LoadLedger(path string) (*Ledger, error) {
	l := &Ledger{Files: map[string]*LedgerEntry{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read import ledger: %w", err)
	}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("read import ledger %s: %w", path, err)
	}
	if l.Files == nil {
		l.Files = map[string]*LedgerEntry{}
	}
	return l, nil
}

// Save writes the ledger atomically (temp file, fsync, rename).
func (l *Ledger) Save(path string) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".imports.json.tmp*")
	if err != nil {
		return fmt.Errorf("write import ledger: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write import ledger: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write import ledger: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write import ledger: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write import ledger: %w", err)
	}
	return nil
}

// HashFile returns the hex SHA-256 of a file's bytes (as stored: a
// gzipped file is hashed compressed).
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// KeyPrefix is the SourceKey prefix of a file's events: the first 16 hex
// digits of its SHA-256.
func KeyPrefix(hash string) string { return hash[:16] }

// IsKey reports whether key has the shape of an import's SourceKey: 16
// hex digits, a colon and a line number. The stream's duplicate filter
// leaves such keys alone (the importer resumes by line on its own).
func IsKey(key string) bool {
	if len(key) < 18 || key[16] != ':' {
		return false
	}
	for i := 0; i < 16; i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	for _, c := range key[17:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// LineOfKey returns the line of a SourceKey with the given prefix.
func LineOfKey(key, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(key, prefix+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// Run imports each file into sink in batches, recording progress in the
// ledger after every acknowledged batch. A file whose hash the ledger marks
// complete is skipped; one marked incomplete resumes after what is
// already in the log.
func Run(ctx context.Context, sink Sink, files []string, o RunOptions) ([]Stats, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
	}
	switch o.OnError {
	case "":
		o.OnError = "skip"
	case "skip", "fail":
	default:
		return nil, fmt.Errorf("--on-error %q: want skip or fail", o.OnError)
	}
	ledger := &Ledger{Files: map[string]*LedgerEntry{}}
	if o.Ledger != "" {
		var err error
		if ledger, err = LoadLedger(o.Ledger); err != nil {
			return nil, err
		}
	}
	var all []Stats
	for _, path := range files {
		st, err := runFile(ctx, sink, path, ledger, o)
		all = append(all, st)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

func runFile(ctx context.Context, sink Sink, path string, ledger *Ledger, o RunOptions) (Stats, error) {
	start := time.Now()
	st := Stats{File: path, Rejected: map[string]int{}}
	hash, err := HashFile(path)
	if err != nil {
		return st, err
	}
	st.Hash = hash
	prefix := KeyPrefix(hash)
	ent := ledger.Files[hash]
	if ent != nil && ent.Complete {
		st.Already = true
		return st, nil
	}
	var inLog map[int]bool
	if ent == nil {
		ent = &LedgerEntry{Path: path, Format: o.Format}
		ledger.Files[hash] = ent
	} else {
		st.Resumed = true
		if o.Committed != nil {
			if inLog, err = o.Committed(prefix); err != nil {
				return st, fmt.Errorf("resume %s: %w", path, err)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	po := o.Options
	po.KeyPrefix = prefix
	var evs []event.Event
	var ps []event.Product
	lastLine := 0
	lastProgress := time.Now()
	save := func() error {
		if o.Ledger == "" {
			return nil
		}
		ent.Updated = time.Now().UTC()
		return ledger.Save(o.Ledger)
	}
	flush := func() error {
		if len(ps) > 0 {
			if err := sink.UpsertProducts(ctx, ps); err != nil {
				return err
			}
			st.Products += len(ps)
		}
		if len(evs) > 0 {
			if err := sink.IngestEvents(ctx, evs); err != nil {
				return err
			}
			st.Accepted += len(evs)
			ent.Events += len(evs)
		}
		ent.Committed = max(ent.Committed, lastLine)
		evs, ps = evs[:0], ps[:0]
		return save()
	}
	err = Parse(ctx, f, po, func(r Row) error {
		lastLine = r.Line
		if r.Line <= ent.Committed || inLog[r.Line] {
			st.Skipped++
			return nil
		}
		st.Rows++
		switch {
		case r.Err != nil:
			if o.OnError == "fail" {
				return &LineError{File: path, Line: r.Line, Err: r.Err}
			}
			st.Malformed++
			if o.Malformed != nil {
				o.Malformed(path, r.Line, r.Err)
			}
		case r.Reject != "":
			st.Rejected[r.Reject]++
		default:
			if r.Product != nil {
				ps = append(ps, *r.Product)
			}
			evs = append(evs, *r.Event)
			if len(evs) >= o.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if o.Progress != nil && time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			st.Elapsed = time.Since(start)
			o.Progress(st)
		}
		return nil
	})
	if err != nil {
		st.Elapsed = time.Since(start)
		return st, err
	}
	if err := flush(); err != nil {
		st.Elapsed = time.Since(start)
		return st, err
	}
	ent.Complete = true
	st.Elapsed = time.Since(start)
	return st, save()
}

// SortedReasons returns the rejection reasons by count, largest first.
func (s Stats) SortedReasons() []string {
	out := make([]string, 0, len(s.Rejected))
	for r := range s.Rejected {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if s.Rejected[out[i]] != s.Rejected[out[j]] {
			return s.Rejected[out[i]] > s.Rejected[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
