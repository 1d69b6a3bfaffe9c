package seglog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/recohq/reco"
)

// ErrClosed is wrapped by the reco.Unavailable errors of a closed Log.
var ErrClosed = errors.New("log closed")

// ErrOutOfRange is wrapped by the reco.Invalid error for a read below the
// oldest retained offset (data the reader has lost) or past the end.
var ErrOutOfRange = errors.New("offset out of range")

// Log is an open segment log. All methods are safe for concurrent use.
type Log struct {
	opts     Options
	parts    []*partition
	lock     io.Closer
	recovery []Truncation

	qmu     sync.Mutex
	queue   []*request
	closed  bool
	failed  error         // sticky writer failure; set under qmu
	wake    chan struct{} // capacity 1: the queue is non-empty
	stop    chan struct{} // closed by Close
	closing chan struct{} // closed by Close; wakes readers
	exited  chan struct{} // closed when the writer goroutine returns

	cmu            sync.Mutex
	consumers      map[string][]int64
	consumersDirty bool
	retMu          sync.Mutex // serializes EnforceRetention
}

// Truncation describes a torn tail that Open cut off a partition's last
// segment.
type Truncation struct {
	Partition    int
	Path         string // segment file
	Pos          int64  // file size after truncation: where valid data ends
	DroppedBytes int64
	Reason       string // what was wrong with the first dropped record
}

// segment is one segment file. base and path never change; the other
// exported-to-readers fields are guarded by partition.mu.
type segment struct {
	base int64
	path string

	size       int64 // bytes visible to readers
	count      int64 // records visible to readers
	sealed     bool  // a later segment exists; size and count are final
	lastAppend time.Time

	written int64 // bytes written; writer goroutine only
	file    File  // the open write handle; writer goroutine only
}

type partition struct {
	id  int
	dir string

	mu     sync.Mutex
	segs   []*segment // ascending by base; never empty
	end    int64      // first offset not yet visible
	notify chan struct{}

	// Writer goroutine only.
	active *segment
	wend   int64 // next offset to assign
	buf    []byte
	dirty  bool // written but not fsynced
	undo   *undoState
}

type undoState struct {
	active  *segment
	written int64
	wend    int64
	created []*segment // segments created in this group, in order
}

// Open opens the log in opts.Dir, creating it if needed, and recovers torn
// tails. It starts the writer goroutine; Close stops it.
func Open(opts Options) (*Log, error) {
	const op = "seglog.Open"
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, reco.E(op, reco.Invalid, err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, reco.E(op, reco.Other, fmt.Errorf("create directory: %w", err))
	}
	lk, err := lockDir(opts.Dir)
	if err != nil {
		return nil, reco.E(op, reco.Conflict, err)
	}
	l := &Log{
		opts:      opts,
		lock:      lk,
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		closing:   make(chan struct{}),
		exited:    make(chan struct{}),
		consumers: map[string][]int64{},
	}
	if err := l.load(); err != nil {
		l.closeFiles()
		lk.Close()
		var re *reco.Error
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, reco.E(op, reco.Other, err)
	}
	go l.run()
	return l, nil
}

func (l *Log) load() error {
	const op = "seglog.Open"
	dir := l.opts.Dir
	m, ok, err := loadMeta(dir)
	if err != nil {
		return err
	}
	n := l.opts.Partitions
	switch {
	case !ok:
		if n == 0 {
			n = defaultPartitions
		}
		for p := range n {
			if err := os.MkdirAll(partDir(dir, p), 0o755); err != nil {
				return fmt.Errorf("create partition directory: %w", err)
			}
		}
		b, _ := json.Marshal(meta{Version: formatVersion, Partitions: n})
		if err := writeFileAtomic(filepath.Join(dir, metaName), b); err != nil {
			return err
		}
	case n != 0 && n != m.Partitions:
		return reco.Errorf(op, reco.Invalid, "log in %s has %d partitions, Options.Partitions is %d", dir, m.Partitions, n)
	default:
		n = m.Partitions
	}
	l.parts = make([]*partition, n)
	for p := range n {
		part, err := l.openPartition(p)
		if err != nil {
			return fmt.Errorf("open partition %d: %w", p, err)
		}
		l.parts[p] = part
	}
	return l.loadConsumers()
}

func (l *Log) openPartition(id int) (_ *partition, err error) {
	p := &partition{id: id, dir: partDir(l.opts.Dir, id), notify: make(chan struct{})}
	defer func() {
		if err != nil {
			for _, s := range p.segs {
				if s.file != nil {
					s.file.Close()
				}
			}
		}
	}()
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	for _, e := range ents {
		base, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat segment: %w", err)
		}
		p.segs = append(p.segs, &segment{
			base:       base,
			path:       filepath.Join(p.dir, e.Name()),
			size:       info.Size(),
			lastAppend: info.ModTime(),
		})
	}
	sort.Slice(p.segs, func(i, j int) bool { return p.segs[i].base < p.segs[j].base })
	if len(p.segs) == 0 {
		s := &segment{base: 0, path: filepath.Join(p.dir, segName(0)), lastAppend: l.opts.Now()}
		f, err := l.opts.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("create first segment: %w", err)
		}
		s.file = f
		if err := syncDir(p.dir); err != nil {
			f.Close()
			return nil, err
		}
		p.segs = append(p.segs, s)
	}
	for i, s := range p.segs[:len(p.segs)-1] {
		s.sealed = true
		s.count = p.segs[i+1].base - s.base
		s.written = s.size
	}
	last := p.segs[len(p.segs)-1]
	if last.file == nil {
		f, err := l.opts.OpenFile(last.path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open last segment: %w", err)
		}
		last.file = f
		if err := l.recoverTail(p, last); err != nil {
			return nil, err
		}
	}
	last.written = last.size
	p.active = last
	p.end = last.base + last.count
	p.wend = p.end
	return p, nil
}

// recoverTail scans the last segment, sets its size and count, and cuts off
// a torn tail.
func (l *Log) recoverTail(p *partition, s *segment) error {
	info, err := s.file.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	size := info.Size()
	var sr segReader
	sr.reset(s.file, 0)
	var count int64
	reason := ""
	for sr.pos() < size {
		_, bad, err := sr.next(size, s.base+count, true)
		if err != nil {
			return fmt.Errorf("scan %s: %w", s.path, err)
		}
		if bad != "" {
			reason = bad
			break
		}
		count++
	}
	good := sr.pos()
	s.size, s.count = good, count
	if good == size {
		return nil
	}
	if err := s.file.Truncate(good); err != nil {
		return fmt.Errorf("truncate torn tail of %s: %w", s.path, err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	t := Truncation{Partition: p.id, Path: s.path, Pos: good, DroppedBytes: size - good, Reason: reason}
	l.recovery = append(l.recovery, t)
	if h := l.opts.Hooks.OnTruncate; h != nil {
		h(p.id, t.DroppedBytes)
	}
	return nil
}

// Recovered lists the torn tails Open truncated, if any. The caller owns the
// returned slice.
func (l *Log) Recovered() []Truncation { return append([]Truncation(nil), l.recovery...) }

// Partitions returns the partition count.
func (l *Log) Partitions() int { return len(l.parts) }

// EndOffset returns the first offset of partition p not yet visible to
// readers: the offset the next record gets unless an Append is in flight.
// It returns -1 for a bad p.
func (l *Log) EndOffset(p int) int64 {
	if p < 0 || p >= len(l.parts) {
		return -1
	}
	part := l.parts[p]
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.end
}

// StartOffset returns the oldest retained offset of partition p. It returns
// -1 for a bad p.
func (l *Log) StartOffset(p int) int64 {
	if p < 0 || p >= len(l.parts) {
		return -1
	}
	part := l.parts[p]
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.segs[0].base
}

// Record is one record to append.
type Record struct {
	Partition int
	Data      []byte
}

type request struct {
	recs    []Record
	offs    []int64
	bytes   int  // encoded size
	sync    bool // a Sync request, no records
	taken   bool // handed to the writer; guarded by qmu
	encoded chan struct{}
	done    chan struct{}
	err     error
}

// Append writes recs and returns each one's offset, aligned with recs.
// Offsets are dense per partition. The batch is all or nothing for readers:
// if a write fails (for example with ENOSPC, a reco.NoSpace error) the
// partial data is truncated away, no record becomes visible and the log
// stays usable. Appends that reach the writer together are committed
// together and fail together.
//
// With Fsync "always" Append returns after the data is fsynced; otherwise
// after it is written to the files.
//
// ctx cancels the wait. If the batch was still queued it is dropped and will
// not be written; if the writer had already taken it, Append returns ctx's
// error once the writer no longer reads recs, and the batch may still land.
// Append does not keep recs or their Data after it returns; the caller must
// not modify them before.
//
// Errors: reco.Invalid for a bad partition, reco.TooLarge for a record over
// MaxRecordBytes, reco.Unavailable after Close, reco.NoSpace when the disk is
// full.
func (l *Log) Append(ctx context.Context, recs []Record) ([]int64, error) {
	const op = "seglog.Append"
	start := time.Now()
	size := 0
	for i, r := range recs {
		if r.Partition < 0 || r.Partition >= len(l.parts) {
			return nil, reco.Errorf(op, reco.Invalid, "record %d: partition %d not in [0, %d)", i, r.Partition, len(l.parts))
		}
		if len(r.Data) > l.opts.MaxRecordBytes {
			return nil, reco.Errorf(op, reco.TooLarge, "record %d: %d bytes, over the limit of %d", i, len(r.Data), l.opts.MaxRecordBytes)
		}
		size += headerSize + len(r.Data)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(recs) == 0 {
		return nil, l.usable(op)
	}
	req := &request{
		recs:    recs,
		offs:    make([]int64, len(recs)),
		bytes:   size,
		encoded: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := l.enqueue(op, req); err != nil {
		return nil, err
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		if l.dequeue(req) {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		<-req.encoded
		return nil, fmt.Errorf("%s: batch may still be written: %w", op, ctx.Err())
	}
	if req.err != nil {
		return nil, req.err
	}
	if h := l.opts.Hooks.OnAppend; h != nil {
		h(len(recs), size-len(recs)*headerSize, time.Since(start))
	}
	return req.offs, nil
}

// usable returns the error a new request would fail with, or nil.
func (l *Log) usable(op string) error {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.usableLocked(op)
}

func (l *Log) usableLocked(op string) error {
	if l.closed {
		return reco.E(op, reco.Unavailable, ErrClosed)
	}
	if l.failed != nil {
		return reco.E(op, reco.Unavailable, fmt.Errorf("log unusable after an earlier failure: %w", l.failed))
	}
	return nil
}

func (l *Log) enqueue(op string, req *request) error {
	l.qmu.Lock()
	if err := l.usableLocked(op); err != nil {
		l.qmu.Unlock()
		return err
	}
	l.queue = append(l.queue, req)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// dequeue removes req from the queue if the writer has not taken it.
func (l *Log) dequeue(req *request) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if req.taken {
		return false
	}
	for i, r := range l.queue {
		if r == req {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			break
		}
	}
	return true
}

// Sync fsyncs every partition's data now. With Fsync "always" there is
// nothing to do beyond what Append did.
func (l *Log) Sync() error {
	const op = "seglog.Sync"
	req := &request{sync: true, encoded: make(chan struct{}), done: make(chan struct{})}
	if err := l.enqueue(op, req); err != nil {
		return err
	}
	<-req.done
	return req.err
}

// Close writes what Appends have queued, fsyncs and closes the segment
// files, saves committed consumer offsets and releases the directory lock.
// It waits for the writer goroutine. Blocked Reader.Next calls return a
// reco.Unavailable error; Readers must still be closed by their owners.
// Append after Close returns a reco.Unavailable error. Close is idempotent.
func (l *Log) Close() error {
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return nil
	}
	l.closed = true
	l.qmu.Unlock()
	close(l.closing)
	close(l.stop)
	<-l.exited

	l.retMu.Lock() // no EnforceRetention in flight
	defer l.retMu.Unlock()
	var errs []error
	l.qmu.Lock()
	if l.failed != nil {
		errs = append(errs, l.failed)
	}
	l.qmu.Unlock()
	for _, p := range l.parts {
		if f := p.active.file; f != nil {
			if err := f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("sync %s: %w", p.active.path, err))
			}
		}
	}
	l.closeFiles()
	if err := l.saveConsumers(); err != nil {
		errs = append(errs, err)
	}
	if err := l.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("release lock: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return reco.E("seglog.Close", reco.Other, err)
	}
	return nil
}

func (l *Log) closeFiles() {
	for _, p := range l.parts {
		if p == nil {
			continue
		}
		for _, s := range p.segs {
			if s.file != nil {
				s.file.Close()
				s.file = nil
			}
		}
	}
}

// ioKind classifies a write error.
func ioKind(err error) reco.Kind {
	if errors.Is(err, syscall.ENOSPC) {
		return reco.NoSpace
	}
	return reco.Other
}
