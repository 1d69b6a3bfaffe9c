package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
)

// Options configure a Store.
type Options struct {
	// Views are the feature views; nil means DefaultViews().
	Views []View
}

// Store is the offline feature store: Parquet files in a Bucket, one
// directory per dataset and date:
//
//	view=<view>/date=YYYY-MM-DD/<batch>.parquet   feature rows (by row timestamp)
//	events/date=YYYY-MM-DD/<batch>.parquet        the raw event archive (by event time)
//	late_events/date=YYYY-MM-DD/<batch>.parquet   events too late for their window
//
// Writing the same batch name again replaces the earlier file: writers make
// batch names deterministic so a retry after a crash never duplicates rows.
// A Store is safe for concurrent use; it holds no state besides the bucket.
type Store struct {
	b     Bucket
	views []View
}

// New returns a store over b. It does no I/O.
func New(b Bucket, o Options) (*Store, error) {
	views := o.Views
	if views == nil {
		views = DefaultViews()
	}
	var errs []error
	for i := range views {
		if err := views[i].Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, reco.E("offline.New", reco.Invalid, fmt.Errorf("%v", errs))
	}
	return &Store{b: b, views: slices.Clone(views)}, nil
}

// WithViews returns a store over the same bucket that also knows views
// (for example the declared feature views' histories), after s's own. A
// view that is invalid or whose name s already has is a reco.Invalid
// error. s is not changed.
func (s *Store) WithViews(views ...View) (*Store, error) {
	all := slices.Clone(s.views)
	var errs []error
	for i := range views {
		v := &views[i]
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
		if slices.ContainsFunc(all, func(x View) bool { return x.Name == v.Name }) {
			errs = append(errs, fmt.Errorf("view %s: the store already has a view of that name", v.Name))
		}
		all = append(all, *v)
	}
	if len(errs) > 0 {
		return nil, reco.E("offline.WithViews", reco.Invalid, errors.Join(errs...))
	}
	return &Store{b: s.b, views: all}, nil
}

// Bucket returns the store's bucket.
func (s *Store) Bucket() Bucket { return s.b }

// Views returns the store's views; the caller must not modify them.
func (s *Store) Views() []View { return s.views }

// View returns the named view, or a reco.Invalid error.
func (s *Store) View(name string) (*View, error) {
	for i := range s.views {
		if s.views[i].Name == name {
			return &s.views[i], nil
		}
	}
	return nil, reco.Errorf("offline", reco.Invalid, "unknown view %q (have %s)", name, viewNames(s.views))
}

var batchName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$`)

// datasetPrefix is the key prefix of a view ("view=<name>") or event set.
func viewPrefix(view string) string { return "view=" + view }

func fileKey(prefix, date, batch string) string {
	return prefix + "/date=" + date + "/" + batch + ".parquet"
}

// WriteRows writes rows of view as batch: one file per date of the rows'
// timestamps. Writing the same (view, batch) again replaces those files.
// rows are not modified or kept.
func (s *Store) WriteRows(ctx context.Context, view, batch string, rows []Row) error {
	v, err := s.View(view)
	if err != nil {
		return err
	}
	if !batchName.MatchString(batch) {
		return reco.Errorf("offline.WriteRows", reco.Invalid, "bad batch name %q", batch)
	}
	for date, part := range splitByDate(rows, func(r *Row) int64 { return r.Time }) {
		data, err := encodeRowsBytes(v, part, nil)
		if err != nil {
			return fmt.Errorf("write %s batch %s: %w", view, batch, err)
		}
		key := fileKey(viewPrefix(view), date, batch)
		if err := s.b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
	}
	return nil
}

// splitByDate groups items by the UTC date of their time, keeping order.
func splitByDate[T any](items []T, at func(*T) int64) map[string][]T {
	out := map[string][]T{}
	if len(items) == 0 {
		return out
	}
	dayOf := func(ms int64) int64 { return floorDiv(ms, msPerDay) }
	first := dayOf(at(&items[0]))
	same := true
	for i := range items {
		if dayOf(at(&items[i])) != first {
			same = false
			break
		}
	}
	if same {
		out[dateOf(at(&items[0]))] = items
		return out
	}
	byDay := map[int64][]T{}
	for i := range items {
		d := dayOf(at(&items[i]))
		byDay[d] = append(byDay[d], items[i])
	}
	for d, part := range byDay {
		out[dateOf(d*msPerDay)] = part
	}
	return out
}

const msPerDay = 24 * 3600 * 1000

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// eventRow is the Parquet layout of an archived event: every event.Event field.
type eventRow struct {
	Type      string  `parquet:"type,dict"`
	UserID    string  `parquet:"user_id"`
	ProductID string  `parquet:"product_id"`
	SessionID string  `parquet:"session_id"`
	Category  string  `parquet:"category,dict"`
	Price     float64 `parquet:"price"` // < 0: not given
	Quantity  int32   `parquet:"quantity"`
	Rating    int32   `parquet:"rating"`
	Time      int64   `parquet:"timestamp,timestamp(millisecond)"`
	RequestID string  `parquet:"request_id"`
	Ingested  int64   `parquet:"ingested,timestamp(millisecond)"`
	SourceKey string  `parquet:"source_key"`
}

func checkSet(set string) error {
	if set != EventsSet && set != LateEventsSet {
		return reco.Errorf("offline", reco.Invalid, "unknown event set %q (have %s, %s)", set, EventsSet, LateEventsSet)
	}
	return nil
}

// WriteEvents writes events to set (EventsSet or LateEventsSet) as batch,
// one file per event date. Writing the same (set, batch) again replaces them.
func (s *Store) WriteEvents(ctx context.Context, set, batch string, evs []event.Event) error {
	if err := checkSet(set); err != nil {
		return err
	}
	if !batchName.MatchString(batch) {
		return reco.Errorf("offline.WriteEvents", reco.Invalid, "bad batch name %q", batch)
	}
	for date, part := range splitByDate(evs, func(e *event.Event) int64 { return e.Time }) {
		rows := make([]eventRow, len(part))
		for i := range part {
			e := &part[i]
			rows[i] = eventRow{Type: e.Type.String(), UserID: e.UserID, ProductID: e.ProductID, SessionID: e.SessionID,
				Category: e.Category, Price: e.Price, Quantity: e.Quantity, Rating: int32(e.Rating), Time: e.Time,
				RequestID: e.RequestID, Ingested: e.Ingested, SourceKey: e.SourceKey}
		}
		var b bytes.Buffer
		w := parquet.NewGenericWriter[eventRow](&b, parquet.Compression(fastZstd), parquet.MaxRowsPerRowGroup(rowGroupRows))
		if _, err := w.Write(rows); err != nil {
			return fmt.Errorf("write %s batch %s: %w", set, batch, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("write %s batch %s: %w", set, batch, err)
		}
		key := fileKey(set, date, batch)
		if err := s.b.Put(ctx, key, bytes.NewReader(b.Bytes()), int64(b.Len())); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
	}
	return nil
}

// Partition is one date directory of a dataset.
type Partition struct {
	Prefix string // "view=user_features" or "events"
	Date   string // YYYY-MM-DD
	Files  []ObjectInfo
}

// Dir is the partition's key prefix, ending in "/".
func (p Partition) Dir() string { return p.Prefix + "/date=" + p.Date + "/" }

// partitions lists the partitions of a dataset with dates in [from, to]
// ("" = unbounded), in date order.
func (s *Store) partitions(ctx context.Context, prefix, from, to string) ([]Partition, error) {
	objs, err := s.b.List(ctx, prefix+"/date=")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	var out []Partition
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, prefix+"/date=")
		date, name, ok := strings.Cut(rest, "/")
		if !ok || strings.Contains(name, "/") || !strings.HasSuffix(name, ".parquet") {
			continue
		}
		if (from != "" && date < from) || (to != "" && date > to) {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Date != date {
			out = append(out, Partition{Prefix: prefix, Date: date})
		}
		p := &out[len(out)-1]
		p.Files = append(p.Files, o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out, nil
}

// openFile is an opened Parquet file of a partition.
type openFile struct {
	info   ObjectInfo
	obj    Object
	f      *parquet.File
	inputs []string // for a compacted file: the names it replaces
}

func (o *openFile) close() { o.obj.Close() }

func baseName(key string) string { return path.Base(key) }

func (s *Store) open(ctx context.Context, info ObjectInfo) (*openFile, error) {
	obj, err := s.b.Get(ctx, info.Key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", info.Key, err)
	}
	f, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(1<<20))
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("open %s: %w", info.Key, err)
	}
	of := &openFile{info: info, obj: obj, f: f}
	if v, ok := f.Lookup(inputsKey); ok && v != "" {
		of.inputs = strings.Split(v, ",")
	}
	return of, nil
}

// openPartition opens the live files of a partition: every file except
// those a compacted file lists as replaced (left behind by a compaction
// that stopped before deleting them, or rewritten later by a retry). stale
// are the replaced files still present. The caller closes live.
func (s *Store) openPartition(ctx context.Context, p Partition) (live []*openFile, stale []ObjectInfo, err error) {
	defer func() {
		if err != nil {
			for _, f := range live {
				f.close()
			}
			live = nil
		}
	}()
	replaced := map[string]bool{}
	var compacted []*openFile
	for _, info := range p.Files {
		if strings.HasPrefix(baseName(info.Key), compactPrefix) {
			f, err := s.open(ctx, info)
			if err != nil {
				return live, nil, err
			}
			compacted = append(compacted, f)
			live = append(live, f)
			for _, in := range f.inputs {
				replaced[in] = true
			}
		}
	}
	// A compacted file replaced by a newer compaction is stale too.
	live = live[:0]
	for _, f := range compacted {
		if replaced[baseName(f.info.Key)] {
			stale = append(stale, f.info)
			f.close()
			continue
		}
		live = append(live, f)
	}
	for _, info := range p.Files {
		name := baseName(info.Key)
		if strings.HasPrefix(name, compactPrefix) {
			continue
		}
		if replaced[name] {
			stale = append(stale, info)
			continue
		}
		f, err := s.open(ctx, info)
		if err != nil {
			return live, nil, err
		}
		live = append(live, f)
	}
	return live, stale, nil
}

// DateRange returns the inclusive UTC date partitions covering [from, to] (Unix ms).
// Times outside years 0001-9999 are clamped.
func dateRange(from, to int64) (string, string) {
	clamp := func(ms int64) string {
		switch {
		case ms < minMs:
			return "0001-01-01"
		case ms > maxMs:
			return "9999-12-31"
		}
		return dateOf(ms)
	}
	return clamp(from), clamp(to)
}

var (
	minMs = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMs = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()
)

// ReadRows reads the rows of view with timestamps in [from, to) (Unix ms)
// with the named fields (nil: all), in no particular order.
func (s *Store) ReadRows(ctx context.Context, view string, from, to int64, fields []string) (*Table, error) {
	v, err := s.View(view)
	if err != nil {
		return nil, err
	}
	want, err := fieldIndexes(v, fields)
	if err != nil {
		return nil, err
	}
	t := &Table{Cols: make([]Column, len(want))}
	for i, j := range want {
		t.Cols[i] = Column{Field: v.Fields[j]}
	}
	df, dt := dateRange(from, to-1)
	parts, err := s.partitions(ctx, viewPrefix(view), df, dt)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		live, _, err := s.openPartition(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, f := range live {
			if err == nil {
				err = readInto(f, v, want, from, to, t)
			}
			f.close()
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

func fieldIndexes(v *View, fields []string) ([]int, error) {
	if fields == nil {
		out := make([]int, len(v.Fields))
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	out := make([]int, len(fields))
	for i, name := range fields {
		j := v.Field(name)
		if j < 0 {
			return nil, reco.Errorf("offline", reco.Invalid, "view %s has no feature %q", v.Name, name)
		}
		out[i] = j
	}
	return out, nil
}

// readInto appends the rows of f with time in [from, to) to t.
func readInto(f *openFile, v *View, want []int, from, to int64, t *Table) error {
	ci, err := indexOf(f.f.Schema(), v)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.info.Key, err)
	}
	var times []int64
	for _, rg := range f.f.RowGroups() {
		times, err = readTimes(rg, ci.time, times[:0])
		if err != nil {
			return fmt.Errorf("read %s: %w", f.info.Key, err)
		}
		keep := make([]bool, len(times))
		for i, tm := range times {
			if tm >= from && tm < to {
				keep[i] = true
				t.Times = append(t.Times, tm)
			}
		}
		i := 0
		err = readColumn(rg.ColumnChunks()[ci.key], func(vals []parquet.Value) {
			for _, val := range vals {
				if keep[i] {
					t.Keys = append(t.Keys, string(val.ByteArray()))
				}
				i++
			}
		})
		for c, j := range want {
			if err == nil {
				err = appendColumn(rg, ci.fields[j], &t.Cols[c], keep)
			}
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.info.Key, err)
		}
	}
	return nil
}

// ReadEvents reads the events of set with event times in [from, to), in
// file order (by date, then batch name).
func (s *Store) ReadEvents(ctx context.Context, set string, from, to int64) ([]event.Event, error) {
	var out []event.Event
	err := s.ScanEvents(ctx, set, from, to, func(_ string, evs []event.Event) error {
		out = append(out, evs...)
		return nil
	})
	return out, err
}

// ScanEvents calls fn with the events of each live file of set (its key,
// and its events with times in [from, to)), in date and name order. evs is
// fn's to keep.
func (s *Store) ScanEvents(ctx context.Context, set string, from, to int64, fn func(key string, evs []event.Event) error) error {
	if err := checkSet(set); err != nil {
		return err
	}
	df, dt := dateRange(from, to-1)
	parts, err := s.partitions(ctx, set, df, dt)
	if err != nil {
		return err
	}
	for _, p := range parts {
		live, _, err := s.openPartition(ctx, p)
		if err != nil {
			return err
		}
		for _, f := range live {
			var evs []event.Event
			if err == nil {
				evs, err = readEvents(f, from, to)
			}
			if err == nil {
				err = fn(f.info.Key, evs)
			}
			f.close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readEvents(f *openFile, from, to int64) ([]event.Event, error) {
	r := parquet.NewGenericReader[eventRow](f.f)
	defer r.Close()
	var out []event.Event
	buf := make([]eventRow, 1024)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			if row.Time < from || row.Time >= to {
				continue
			}
			typ, _ := event.ParseType(row.Type)
			out = append(out, event.Event{Type: typ, UserID: row.UserID, ProductID: row.ProductID, SessionID: row.SessionID,
				Category: row.Category, Price: row.Price, Quantity: row.Quantity, Rating: int8(row.Rating), Time: row.Time,
				RequestID: row.RequestID, Ingested: row.Ingested, SourceKey: row.SourceKey})
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("read %s: %w", f.info.Key, err)
		}
	}
	return out, nil
}

// Writer batches rows of one view and writes each batch as
// "<name>-<seq>" (deterministic: the same rows written in the same order by
// a writer of the same name produce the same files). Not safe for
// concurrent use.
type Writer struct {
	s         *Store
	view      string
	name      string
	batchRows int
	seq       int
	rows      []Row
	Written   int64 // rows written so far
}

// NewWriter returns a writer of view rows named name, flushing every
// batchRows rows (0 means 1<<20).
func (s *Store) NewWriter(view, name string, batchRows int) *Writer {
	if batchRows <= 0 {
		batchRows = 1 << 20
	}
	return &Writer{s: s, view: view, name: name, batchRows: batchRows}
}

// Write buffers rows (copied by value; their Values slices are kept until
// the next flush) and writes full batches.
func (w *Writer) Write(ctx context.Context, rows ...Row) error {
	for len(rows) > 0 {
		n := min(len(rows), w.batchRows-len(w.rows))
		w.rows = append(w.rows, rows[:n]...)
		rows = rows[n:]
		if len(w.rows) >= w.batchRows {
			if err := w.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flush writes the buffered rows as one batch.
func (w *Writer) Flush(ctx context.Context) error {
	if len(w.rows) == 0 {
		return nil
	}
	name := fmt.Sprintf("%s-%06d", w.name, w.seq)
	if err := w.s.WriteRows(ctx, w.view, name, w.rows); err != nil {
		return err
	}
	w.seq++
	w.Written += int64(len(w.rows))
	w.rows = w.rows[:0]
	return nil
}

// UTCDate parses YYYY-MM-DD as a UTC midnight.
func UTCDate(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }
