package seglog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/recohq/reco"
)

// Reader reads one partition in offset order. It is not safe for concurrent
// use; distinct Readers are independent.
type Reader struct {
	l    *Log
	p    *partition
	seg  *segment
	sr   segReader
	next int64 // offset of the record at the cursor
	from int64 // records below from are skipped
	// limit is the visible size of seg when last checked; bytes below it
	// can be read without taking p.mu.
	limit  int64
	err    error // sticky
	closed bool
}

// NewReader returns a Reader of partition p positioned at offset from.
// from may equal EndOffset(p), to wait for new records. A from below
// StartOffset(p) (deleted by retention: data the caller has lost) or above
// EndOffset(p) is a reco.Invalid error wrapping ErrOutOfRange. Seeking
// scans the segment holding from from its start.
func (l *Log) NewReader(p int, from int64) (*Reader, error) {
	const op = "seglog.NewReader"
	if p < 0 || p >= len(l.parts) {
		return nil, reco.Errorf(op, reco.Invalid, "partition %d not in [0, %d)", p, len(l.parts))
	}
	if err := l.usable(op); err != nil {
		return nil, err
	}
	part := l.parts[p]
	part.mu.Lock()
	start, end := part.segs[0].base, part.end
	var seg *segment
	if from >= start && from <= end {
		seg = part.segs[segIndex(part.segs, from)]
	}
	part.mu.Unlock()
	if seg == nil {
		return nil, reco.E(op, reco.Invalid, fmt.Errorf("partition %d offset %d not in [%d, %d]: %w", p, from, start, end, ErrOutOfRange))
	}
	r := &Reader{l: l, p: part, from: from}
	if err := r.open(seg); err != nil {
		return nil, reco.E(op, reco.KindOf(err), err)
	}
	return r, nil
}

// segIndex returns the index of the last segment with base <= off.
func segIndex(segs []*segment, off int64) int {
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > off })
	return max(i-1, 0)
}

func (r *Reader) open(seg *segment) error {
	f, err := r.l.opts.OpenFile(seg.path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return reco.E("", reco.Invalid, fmt.Errorf("segment %s was deleted: %w", seg.path, ErrOutOfRange))
	}
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	if r.sr.f != nil {
		r.sr.f.Close()
	}
	r.sr.reset(f, 0)
	r.seg = seg
	r.next = seg.base
	r.limit = 0
	return nil
}

// Next returns the next record, blocking until one is appended, ctx ends or
// the Log is closed (a reco.Unavailable error). data is only valid until the
// next call on r. A record failing its checks is a *CorruptionError; errors
// other than ctx's are sticky.
func (r *Reader) Next(ctx context.Context) (off int64, data []byte, err error) {
	for {
		off, data, ok, wait, err := r.step()
		if err != nil || ok {
			return off, data, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("seglog.Next: %w", ctx.Err())
		case <-r.l.closing:
			// Return what is visible before reporting the close.
			off, data, ok, _, err := r.step()
			if err != nil || ok {
				return off, data, err
			}
			return 0, nil, reco.E("seglog.Next", reco.Unavailable, ErrClosed)
		}
	}
}

// TryNext returns the next record without blocking; ok is false when the
// reader has caught up (it does not report Close). data is only valid until
// the next call on r.
func (r *Reader) TryNext() (off int64, data []byte, ok bool, err error) {
	off, data, ok, _, err = r.step()
	return off, data, ok, err
}

// Offset returns the offset of the record the next call returns.
func (r *Reader) Offset() int64 { return max(r.next, r.from) }

// step returns the next record, or the channel that is closed when there
// may be more.
func (r *Reader) step() (off int64, data []byte, ok bool, wait <-chan struct{}, err error) {
	if r.err != nil {
		return 0, nil, false, nil, r.err
	}
	if r.closed {
		return 0, nil, false, nil, reco.E("seglog.Reader", reco.Invalid, errors.New("reader closed"))
	}
	for {
		if r.sr.pos() >= r.limit {
			p := r.p
			p.mu.Lock()
			r.limit = r.seg.size
			sealed := r.seg.sealed
			wait = p.notify
			p.mu.Unlock()
			if r.sr.pos() >= r.limit {
				if !sealed {
					return 0, nil, false, wait, nil
				}
				if err := r.advance(); err != nil {
					r.err = err
					return 0, nil, false, nil, err
				}
				continue
			}
		}
		off := r.next
		pos := r.sr.pos()
		data, bad, err := r.sr.next(r.limit, off, off >= r.from)
		if err != nil {
			r.err = reco.E("seglog.Reader", reco.Other, fmt.Errorf("read %s at byte %d: %w", r.seg.path, pos, err))
			return 0, nil, false, nil, r.err
		}
		if bad != "" {
			r.err = reco.E("seglog.Reader", reco.Other, &CorruptionError{Path: r.seg.path, Pos: pos, Offset: off, Reason: bad})
			return 0, nil, false, nil, r.err
		}
		r.next++
		if off >= r.from {
			return off, data, true, nil, nil
		}
	}
}

// advance moves from a sealed, fully read segment to the next one.
func (r *Reader) advance() error {
	const op = "seglog.Reader"
	p := r.p
	p.mu.Lock()
	start := p.segs[0].base
	var next *segment
	if i := segIndex(p.segs, r.next); p.segs[i].base == r.next {
		next = p.segs[i]
	}
	p.mu.Unlock()
	if next == nil {
		if r.next < start {
			return reco.E(op, reco.Invalid, fmt.Errorf("partition %d offset %d was deleted (start is %d): %w", p.id, r.next, start, ErrOutOfRange))
		}
		return reco.E(op, reco.Other, &CorruptionError{Path: r.seg.path, Pos: r.sr.pos(), Offset: r.next, Reason: "segment ends before the next segment's base offset"})
	}
	if err := r.open(next); err != nil {
		return reco.E(op, reco.KindOf(err), err)
	}
	return nil
}

// Close releases the reader's file. It does not affect the Log.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.sr.f != nil {
		err := r.sr.f.Close()
		r.sr.f = nil
		r.sr.buf = nil
		if err != nil {
			return fmt.Errorf("seglog.Reader: close: %w", err)
		}
	}
	return nil
}
