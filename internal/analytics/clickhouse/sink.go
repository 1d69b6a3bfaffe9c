package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/analytics"
	"github.com/recohq/reco/internal/event"
)

// Options configure a Sink.
type Options struct {
	URL      string // http://host:8123; required
	Database string // "" means "reco"
	User     string // "" means the server's default user
	Password string

	BatchRecords   int           // records per flush; 0 means 10,000
	FlushInterval  time.Duration // 0 means 1s
	MaxBufferBytes int           // bound of the buffer (encoded rows); 0 means 64 MiB
	RequestTimeout time.Duration // per HTTP request; 0 means 10s
	MinBackoff     time.Duration // after a first failure; 0 means 200ms
	MaxBackoff     time.Duration // 0 means 30s
	Client         *http.Client  // nil means a dedicated client
	Hooks          Hooks
}

// Hooks observe a Sink; each must be fast and safe for concurrent use.
type Hooks struct {
	OnDropped func(records int)                     // the buffer was full: the oldest records were dropped
	OnFlushed func(records int, took time.Duration) // a batch was written
	OnError   func(err error)                       // a request failed; it will be retried
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = "reco"
	}
	if o.BatchRecords == 0 {
		o.BatchRecords = 10_000
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Second
	}
	if o.MaxBufferBytes == 0 {
		o.MaxBufferBytes = 64 << 20
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q is not an http(s) URL", o.URL))
	}
	if !validIdent(o.Database) {
		errs = append(errs, fmt.Errorf("Database %q: want letters, digits and _", o.Database))
	}
	if o.BatchRecords < 0 || o.MaxBufferBytes < 0 || o.FlushInterval < 0 || o.RequestTimeout < 0 {
		errs = append(errs, errors.New("negative BatchRecords, MaxBufferBytes, FlushInterval or RequestTimeout"))
	}
	if o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff %v..%v", o.MinBackoff, o.MaxBackoff))
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

const (
	tableEvents      = 0
	tableImpressions = 1
)

// row is one encoded record: JSONEachRow lines for one table.
type row struct {
	table uint8
	data  []byte
}

// Stats are a Sink's counters.
type Stats struct {
	BufferedRecords int
	BufferedBytes   int
	Dropped         int64 // records dropped because the buffer was full
	Written         int64 // records written (a record replayed counts again)
	Failures        int64 // failed requests
	Down            bool  // the last attempt failed
}

// Sink writes log records to ClickHouse. Write is safe for concurrent use
// and never blocks on I/O; Run does the I/O.
type Sink struct {
	opt Options

	mu      sync.Mutex
	queue   []row // buffered, oldest first from head
	head    int
	bytes   int
	dropped int64
	written int64
	fails   int64
	closed  bool
	down    bool // the last attempt failed
	inflN   int  // records taken by the flusher, not yet written

	wake chan struct{} // a full batch is waiting
	done chan struct{} // closed by Close

	flushMu  sync.Mutex // one flush at a time; guards what follows
	inflight [2][]byte  // taken from the queue, not yet written, per table (count in inflN)
	schemaOK bool
	failures int       // consecutive
	retryAt  time.Time // fail fast until then
}

// New returns a Sink. It starts nothing: call Run.
func New(o Options) (*Sink, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("clickhouse options: %w", err)
	}
	return &Sink{opt: o, wake: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// Database is the database the Sink writes to.
func (s *Sink) Database() string { return s.opt.Database }

type eventRow struct {
	Partition     int     `json:"log_partition"`
	Offset        int64   `json:"log_offset"`
	Type          string  `json:"type"`
	UserID        string  `json:"user_id"`
	ProductID     string  `json:"product_id"`
	SessionID     string  `json:"session_id"`
	Category      string  `json:"category"`
	Price         float64 `json:"price"`
	Quantity      int32   `json:"quantity"`
	Rating        int8    `json:"rating"`
	RevenueMicros int64   `json:"revenue_micros"`
	TimeMs        int64   `json:"time_ms"`
	RequestID     string  `json:"request_id"`
	IngestedMs    int64   `json:"ingested_ms"`
	SourceKey     string  `json:"source_key"`
}

type impressionRow struct {
	Partition    int     `json:"log_partition"`
	Offset       int64   `json:"log_offset"`
	ItemIndex    int     `json:"item_index"`
	IsItem       uint8   `json:"is_item"`
	ItemsCount   int     `json:"items_count"`
	RequestID    string  `json:"request_id"`
	UserID       string  `json:"user_id"`
	SessionID    string  `json:"session_id"`
	ModelVersion string  `json:"model_version"`
	Experiment   string  `json:"experiment"`
	Variant      string  `json:"variant"`
	Fallback     string  `json:"fallback"`
	TimeMs       int64   `json:"time_ms"`
	ProductID    string  `json:"product_id"`
	Source       string  `json:"source"`
	Position     int32   `json:"position"`
	Score        float32 `json:"score"`
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// encode returns the rows of a record, or false for a kind not stored
// (catalog updates).
func encode(rec *event.Record, partition int, offset int64) (row, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one object per line
	switch rec.Kind {
	case event.KindEvent:
		e := &rec.Event
		enc.Encode(eventRow{Partition: partition, Offset: offset, Type: e.Type.String(), UserID: e.UserID,
			ProductID: e.ProductID, SessionID: e.SessionID, Category: e.Category, Price: finite(e.Price),
			Quantity: e.Quantity, Rating: e.Rating, RevenueMicros: analytics.RevenueMicros(e.Price, e.Quantity),
			TimeMs: e.Time, RequestID: e.RequestID, IngestedMs: e.Ingested, SourceKey: e.SourceKey})
		return row{table: tableEvents, data: buf.Bytes()}, true
	case event.KindImpression:
		im := &rec.Impression
		r := impressionRow{Partition: partition, Offset: offset, ItemsCount: len(im.Items), RequestID: im.RequestID,
			UserID: im.UserID, SessionID: im.SessionID, ModelVersion: im.ModelVersion, Experiment: im.Experiment,
			Variant: im.Variant, Fallback: im.Fallback, TimeMs: im.Time}
		if len(im.Items) == 0 {
			enc.Encode(r) // the list itself, with no item
		}
		for i, it := range im.Items {
			r.ItemIndex, r.IsItem, r.ProductID, r.Source, r.Position = i, 1, it.ProductID, it.Source, it.Position
			r.Score = float32(finite(float64(it.Score)))
			enc.Encode(r)
		}
		return row{table: tableImpressions, data: buf.Bytes()}, true
	}
	return row{}, false
}

// Write buffers one log record read at (partition, offset) of the log. It
// never blocks on I/O: when the buffer is over MaxBufferBytes, the oldest
// buffered records are dropped and counted. Writing a record again (a
// replay) is harmless: it counts once in queries. Catalog records are
// ignored. Safe for concurrent use; rec is not retained.
func (s *Sink) Write(rec *event.Record, partition int, offset int64) {
	r, ok := encode(rec, partition, offset)
	if !ok {
		return
	}
	dropped := 0
	s.mu.Lock()
	if s.closed {
		s.dropped++
		s.mu.Unlock()
		s.onDropped(1)
		return
	}
	s.queue = append(s.queue, r)
	s.bytes += len(r.data)
	for s.bytes > s.opt.MaxBufferBytes && s.head < len(s.queue) {
		s.bytes -= len(s.queue[s.head].data)
		s.queue[s.head] = row{}
		s.head++
		dropped++
	}
	s.dropped += int64(dropped)
	if s.head > 1024 && s.head*2 > len(s.queue) {
		s.queue = append(s.queue[:0:0], s.queue[s.head:]...)
		s.head = 0
	}
	full := len(s.queue)-s.head >= s.opt.BatchRecords
	s.mu.Unlock()
	if dropped > 0 {
		s.onDropped(dropped)
	}
	if full {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Sink) onDropped(n int) {
	if h := s.opt.Hooks.OnDropped; h != nil {
		h(n)
	}
}

// Stats returns the Sink's counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	st := Stats{BufferedRecords: len(s.queue) - s.head + s.inflN, BufferedBytes: s.bytes, Dropped: s.dropped,
		Written: s.written, Failures: s.fails, Down: s.down}
	s.mu.Unlock()
	return st
}

// Run flushes the buffer every FlushInterval, or sooner when a batch is
// full, until ctx ends or Close is called. It creates the database and the
// tables first (retrying like any write). It returns nil; failures go to
// Hooks.OnError and are retried with backoff.
func (s *Sink) Run(ctx context.Context) error {
	t := time.NewTicker(s.opt.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-t.C:
		case <-s.wake:
		}
		s.Flush(ctx) // errors are reported through the hook
	}
}

// Close stops accepting records (later Writes are dropped and counted),
// stops Run, and writes what is buffered, trying until ctx ends even if
// ClickHouse was down. It returns an error if records remain unwritten.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	for {
		s.flushMu.Lock()
		s.retryAt = time.Time{}
		s.flushMu.Unlock()
		err := s.Flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			st := s.Stats()
			return fmt.Errorf("clickhouse close: %d records not written: %w", st.BufferedRecords, err)
		case <-time.After(s.backoff(1)):
		}
	}
}

// ErrDown is wrapped by the errors of Flush while ClickHouse is failing and
// the next attempt is not due yet.
var ErrDown = errors.New("clickhouse is down; retrying later")

// Flush writes everything buffered now, in batches. While ClickHouse is
// failing it returns at once (a reco.Unavailable error wrapping ErrDown)
// until the backoff expires. Safe for concurrent use.
func (s *Sink) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if !s.retryAt.IsZero() && time.Now().Before(s.retryAt) {
		return reco.E("clickhouse.Flush", reco.Unavailable, ErrDown)
	}
	err := s.flushLocked(ctx)
	if err != nil {
		s.failures++
		s.retryAt = time.Now().Add(s.backoff(s.failures))
		s.mu.Lock()
		s.fails++
		s.down = true
		s.mu.Unlock()
		if h := s.opt.Hooks.OnError; h != nil {
			h(err)
		}
		return reco.E("clickhouse.Flush", reco.Unavailable, err)
	}
	s.failures, s.retryAt = 0, time.Time{}
	s.mu.Lock()
	s.down = false
	s.mu.Unlock()
	return nil
}

// backoff is the wait after n consecutive failures: exponential, capped,
// with ±20% jitter.
func (s *Sink) backoff(n int) time.Duration {
	d := s.opt.MinBackoff
	for i := 1; i < n && d < s.opt.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opt.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (s *Sink) flushLocked(ctx context.Context) error {
	if !s.schemaOK {
		if err := s.createSchema(ctx); err != nil {
			return err
		}
		s.schemaOK = true
	}
	for {
		if !s.take() {
			return nil
		}
		start := time.Now()
		for t, name := range [2]string{"events", "impressions"} {
			if len(s.inflight[t]) == 0 {
				continue
			}
			q := "INSERT INTO " + s.opt.Database + "." + name + " FORMAT JSONEachRow"
			if err := s.exec(ctx, q, s.inflight[t]); err != nil {
				var se *ServerError
				if errors.As(err, &se) && (se.Code == 60 || se.Code == 81) { // unknown table, database
					s.schemaOK = false
				}
				return fmt.Errorf("insert into %s: %w", name, err)
			}
			s.inflight[t] = s.inflight[t][:0]
		}
		s.mu.Lock()
		n := s.inflN
		s.inflN = 0
		s.written += int64(n)
		s.mu.Unlock()
		if h := s.opt.Hooks.OnFlushed; h != nil {
			h(n, time.Since(start))
		}
	}
}

// take moves up to BatchRecords records from the queue to inflight, unless
// a batch is already there (being retried). It reports whether there is a
// batch to write.
func (s *Sink) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflN > 0 {
		return true
	}
	n := min(len(s.queue)-s.head, s.opt.BatchRecords)
	if n == 0 {
		return false
	}
	for _, r := range s.queue[s.head : s.head+n] {
		s.inflight[r.table] = append(s.inflight[r.table], r.data...)
		s.bytes -= len(r.data)
	}
	clear(s.queue[s.head : s.head+n])
	s.head += n
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	}
	s.inflN = n
	return true
}

// ServerError is an error answered by ClickHouse.
type ServerError struct {
	Status int
	Code   int // ClickHouse's error code, 0 if not found
	Msg    string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("clickhouse: HTTP %d: %s", e.Status, e.Msg)
}

// exec sends one statement, with body as its data (INSERT) or nil.
func (s *Sink) exec(ctx context.Context, query string, body []byte) error {
	_, err := s.do(ctx, query, body)
	return err
}

func (s *Sink) do(ctx context.Context, query string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.RequestTimeout)
	defer cancel()
	u := s.opt.URL
	var rd io.Reader
	if body != nil {
		u = strings.TrimRight(u, "/") + "/?query=" + url.QueryEscape(query)
		rd = bytes.NewReader(body)
	} else {
		rd = strings.NewReader(query)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return nil, err
	}
	if s.opt.User != "" {
		req.Header.Set("X-ClickHouse-User", s.opt.User)
		req.Header.Set("X-ClickHouse-Key", s.opt.Password)
	}
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		e := &ServerError{Status: resp.StatusCode, Msg: msg}
		fmt.Sscanf(msg, "Code: %d", &e.Code)
		return nil, e
	}
	return out, nil
}

// Query runs one SELECT and returns its rows, as TabSeparated fields
// (escape sequences are not decoded). It does not wait for the backoff.
func (s *Sink) Query(ctx context.Context, query string) ([][]string, error) {
	out, err := s.do(ctx, query+" FORMAT TabSeparated", nil)
	if err != nil {
		return nil, fmt.Errorf("clickhouse query: %w", err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows, nil
}

// ResumeOffsets returns, per log partition, the offset after the last
// record stored in ClickHouse: where a consumer feeding the Sink can resume
// after a restart (records between a dropped batch and this offset stay
// missing).
func (s *Sink) ResumeOffsets(ctx context.Context) (map[int]int64, error) {
	out := map[int]int64{}
	for _, t := range []string{"events", "impressions"} {
		rows, err := s.Query(ctx, "SELECT log_partition, max(log_offset) + 1 FROM "+s.opt.Database+"."+t+" GROUP BY log_partition")
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			var p int
			var off int64
			if len(r) == 2 {
				fmt.Sscan(r[0], &p)
				fmt.Sscan(r[1], &off)
				out[p] = max(out[p], off)
			}
		}
	}
	return out, nil
}
