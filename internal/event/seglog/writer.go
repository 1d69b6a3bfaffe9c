package seglog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/recohq/reco"
)

// groupMaxBytes bounds how much queued data one group commit takes.
const groupMaxBytes = 8 << 20

// maxKeptBuf is the largest per-partition write buffer kept between groups.
const maxKeptBuf = 16 << 20

// run is the writer goroutine: it takes queued requests in groups, writes
// and fsyncs them, and with Fsync "interval" fsyncs on every tick. It drains
// the queue and returns when Close closes l.stop.
func (l *Log) run() {
	defer close(l.exited)
	var tick <-chan time.Time
	if l.opts.Fsync == FsyncInterval {
		t := time.NewTicker(l.opts.FsyncInterval)
		defer t.Stop()
		tick = t.C
	}
	var group []*request
	drain := func() {
		for {
			group = l.take(group[:0])
			if len(group) == 0 {
				return
			}
			l.process(group)
			clear(group)
		}
	}
	for {
		select {
		case <-l.wake:
			drain()
		case <-tick:
			if err := l.syncDirty(); err != nil {
				l.fail(err)
			}
		case <-l.stop:
			drain()
			return
		}
	}
}

// take moves a prefix of the queue, at most groupMaxBytes of records unless
// the first request alone is larger, into dst.
func (l *Log) take(dst []*request) []*request {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	size := 0
	n := 0
	for n < len(l.queue) {
		r := l.queue[n]
		if n > 0 && size+r.bytes > groupMaxBytes {
			break
		}
		size += r.bytes
		r.taken = true
		n++
	}
	dst = append(dst, l.queue[:n]...)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	return dst
}

func (l *Log) fail(err error) {
	l.qmu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.qmu.Unlock()
	if h := l.opts.Hooks.OnError; h != nil {
		h(err)
	}
}

func finish(reqs []*request, err error) {
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}

func (l *Log) process(group []*request) {
	var data []*request
	for _, r := range group {
		if !r.sync {
			data = append(data, r)
		}
	}
	if len(data) > 0 {
		l.commit(data)
	}
	for _, r := range group {
		if !r.sync {
			continue
		}
		close(r.encoded)
		err := l.usable("seglog.Sync")
		if err == nil {
			if err = l.syncDirty(); err != nil {
				l.fail(err)
				err = reco.E("seglog.Sync", ioKind(err), err)
			}
		}
		finish([]*request{r}, err)
	}
}

// commit writes one group of Append requests: encode into per-partition
// buffers, one write per partition file, fsync, publish. On any failure it
// truncates what the group wrote and fails every request in it.
func (l *Log) commit(reqs []*request) {
	const op = "seglog.Append"
	l.qmu.Lock()
	failed := l.failed
	l.qmu.Unlock()
	if failed != nil {
		for _, r := range reqs {
			close(r.encoded)
		}
		finish(reqs, reco.E(op, reco.Unavailable, fmt.Errorf("log unusable after an earlier failure: %w", failed)))
		return
	}

	var touched []*partition
	err := l.encode(reqs, &touched)
	for _, r := range reqs {
		close(r.encoded)
	}
	if err == nil {
		for _, p := range touched {
			if err = l.flush(p); err != nil {
				break
			}
		}
	}
	if err == nil && l.opts.Fsync == FsyncAlways {
		if err = l.syncFiles(touched); err == nil {
			for _, p := range touched {
				p.dirty = false
			}
		}
	}
	if err != nil {
		if rerr := l.rollback(touched); rerr != nil {
			l.fail(fmt.Errorf("roll back failed write: %w", rerr))
		}
		finish(reqs, reco.E(op, ioKind(err), err))
		return
	}
	l.publish(touched)
	finish(reqs, nil)
}

func (l *Log) encode(reqs []*request, touched *[]*partition) error {
	for _, r := range reqs {
		for i, rec := range r.recs {
			p := l.parts[rec.Partition]
			if p.undo == nil {
				p.undo = &undoState{active: p.active, written: p.active.written, wend: p.wend}
				*touched = append(*touched, p)
			}
			need := int64(headerSize + len(rec.Data))
			if cur := p.active.written + int64(len(p.buf)); cur > 0 && cur+need > l.opts.SegmentBytes {
				if err := l.roll(p); err != nil {
					return err
				}
			}
			r.offs[i] = p.wend
			p.buf = appendRecord(p.buf, p.wend, rec.Data)
			p.wend++
		}
	}
	return nil
}

// flush writes p's buffer to the end of its active segment.
func (l *Log) flush(p *partition) error {
	if len(p.buf) == 0 {
		return nil
	}
	s := p.active
	n, err := s.file.WriteAt(p.buf, s.written)
	s.written += int64(n)
	p.dirty = true
	if err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	p.buf = p.buf[:0]
	return nil
}

// roll seals p's active segment (flushed and fsynced) and starts a new one
// at the next offset, durably created before any record goes into it.
func (l *Log) roll(p *partition) error {
	if err := l.flush(p); err != nil {
		return err
	}
	old := p.active
	if err := old.file.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", old.path, err)
	}
	s := &segment{base: p.wend, path: filepath.Join(p.dir, segName(p.wend))}
	f, err := l.opts.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	s.file = f
	p.undo.created = append(p.undo.created, s)
	p.active = s
	return syncDir(p.dir)
}

// syncFiles fsyncs the active segment of each partition, in parallel.
func (l *Log) syncFiles(parts []*partition) error {
	if len(parts) == 0 {
		return nil
	}
	start := time.Now()
	errs := make([]error, len(parts))
	if len(parts) == 1 {
		errs[0] = datasync(parts[0].active.file)
	} else {
		var wg sync.WaitGroup
		for i, p := range parts {
			wg.Go(func() { errs[i] = datasync(p.active.file) })
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("sync %s: %w", parts[i].active.path, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if h := l.opts.Hooks.OnFsync; h != nil {
		h(time.Since(start))
	}
	return nil
}

// syncDirty fsyncs partitions written since their last fsync.
func (l *Log) syncDirty() error {
	var dirty []*partition
	for _, p := range l.parts {
		if p.dirty {
			dirty = append(dirty, p)
		}
	}
	if err := l.syncFiles(dirty); err != nil {
		return err
	}
	for _, p := range dirty {
		p.dirty = false
	}
	return nil
}

// publish makes a committed group visible to readers and wakes them.
func (l *Log) publish(touched []*partition) {
	now := l.opts.Now()
	for _, p := range touched {
		u := p.undo
		p.undo = nil
		chain := append([]*segment{u.active}, u.created...)
		p.mu.Lock()
		for i, s := range chain {
			s.size = s.written
			s.lastAppend = now
			if i+1 < len(chain) {
				s.sealed = true
				s.count = chain[i+1].base - s.base
			} else {
				s.count = p.wend - s.base
			}
		}
		p.segs = append(p.segs, u.created...)
		p.end = p.wend
		close(p.notify)
		p.notify = make(chan struct{})
		p.mu.Unlock()
		for _, s := range chain[:len(chain)-1] {
			s.file.Close()
			s.file = nil
		}
		if cap(p.buf) > maxKeptBuf {
			p.buf = nil
		}
		if h := l.opts.Hooks.OnRoll; h != nil {
			for _, s := range u.created {
				h(p.id, s.base)
			}
		}
	}
}

// rollback undoes a failed group: it removes the segments the group created
// and truncates each touched partition back to its size before the group.
func (l *Log) rollback(touched []*partition) error {
	var errs []error
	for _, p := range touched {
		u := p.undo
		p.undo = nil
		var rmErr []error
		for _, s := range u.created {
			s.file.Close()
			s.file = nil
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				rmErr = append(rmErr, fmt.Errorf("remove %s: %w", s.path, err))
			}
		}
		if len(u.created) > 0 && len(rmErr) == 0 {
			if err := syncDir(p.dir); err != nil {
				rmErr = append(rmErr, err)
			}
		}
		p.active = u.active
		if len(rmErr) > 0 {
			// A created segment may survive: keep the one before it whole so
			// the offsets on disk stay contiguous. The log is failed anyway.
			errs = append(errs, rmErr...)
		} else if err := p.active.file.Truncate(u.written); err != nil {
			errs = append(errs, fmt.Errorf("truncate %s: %w", p.active.path, err))
		}
		p.active.written = u.written
		p.wend = u.wend
		p.buf = p.buf[:0]
	}
	return errors.Join(errs...)
}
