package seglog

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func mustOpen(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, recs []Record) []int64 {
	t.Helper()
	offs, err := l.Append(context.Background(), recs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return offs
}

// readAll reads partition p from offset from until caught up.
func readAll(t testing.TB, l *Log, p int, from int64) (offs []int64, data [][]byte) {
	t.Helper()
	r, err := l.NewReader(p, from)
	if err != nil {
		t.Fatalf("NewReader(%d, %d): %v", p, from, err)
	}
	defer r.Close()
	for {
		off, d, ok, err := r.TryNext()
		if err != nil {
			t.Fatalf("TryNext partition %d after %d records: %v", p, len(offs), err)
		}
		if !ok {
			return offs, data
		}
		offs = append(offs, off)
		data = append(data, bytes.Clone(d))
	}
}

// payload is deterministic content for (partition, offset).
func payload(p int, off int64) []byte {
	return fmt.Appendf(nil, "p%d-o%d-%s", p, off, bytes.Repeat([]byte{'x'}, int(off%37)))
}

// fill appends n records per partition with payload content, in batches.
func fill(t testing.TB, l *Log, n int) {
	t.Helper()
	for p := range l.Partitions() {
		start := l.EndOffset(p)
		var recs []Record
		for i := range n {
			recs = append(recs, Record{Partition: p, Data: payload(p, start+int64(i))})
		}
		for len(recs) > 0 {
			k := min(len(recs), 7)
			mustAppend(t, l, recs[:k])
			recs = recs[k:]
		}
	}
}

// checkPayloads verifies partition p holds payload content from start to end.
func checkPayloads(t testing.TB, l *Log, p int, start, end int64) {
	t.Helper()
	offs, data := readAll(t, l, p, start)
	if int64(len(offs)) != end-start {
		t.Fatalf("partition %d: read %d records from %d, want %d", p, len(offs), start, end-start)
	}
	for i, off := range offs {
		if off != start+int64(i) {
			t.Fatalf("partition %d: record %d has offset %d, want %d", p, i, off, start+int64(i))
		}
		if want := payload(p, off); !bytes.Equal(data[i], want) {
			t.Fatalf("partition %d offset %d: data %q, want %q", p, off, data[i], want)
		}
	}
}

// clock is an injectable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// faultFS opens real files whose writes fail with ENOSPC once a shared byte
// budget is spent, and whose creation can be made to fail.
type faultFS struct {
	mu         sync.Mutex
	budget     int64 // bytes writable; < 0 means unlimited
	failCreate bool
	block      chan struct{} // if non-nil, WriteAt waits for it
	entered    chan struct{} // if non-nil, WriteAt sends to it before waiting
}

func newFaultFS() *faultFS { return &faultFS{budget: -1} }

func (f *faultFS) set(budget int64, failCreate bool) {
	f.mu.Lock()
	f.budget, f.failCreate = budget, failCreate
	f.mu.Unlock()
}

func (f *faultFS) open(name string, flag int, perm fs.FileMode) (File, error) {
	f.mu.Lock()
	fail := f.failCreate && flag&os.O_CREATE != 0
	f.mu.Unlock()
	if fail {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	*os.File
	fs *faultFS
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	block, entered := f.fs.block, f.fs.entered
	f.fs.mu.Unlock()
	if block != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-block
	}
	f.fs.mu.Lock()
	n, short := len(b), false
	if f.fs.budget >= 0 {
		if int64(n) > f.fs.budget {
			n, short = int(f.fs.budget), true
		}
		f.fs.budget -= int64(n)
	}
	f.fs.mu.Unlock()
	m, err := f.File.WriteAt(b[:n], off)
	if err == nil && short {
		err = &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return m, err
}
