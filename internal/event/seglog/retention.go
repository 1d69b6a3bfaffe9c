package seglog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/recohq/reco"
)

// SetCommitted records that consumer has durably processed partition p
// below offset off. Once a consumer is registered (by its first
// SetCommitted), EnforceRetention keeps every segment it has not committed
// past, in every partition: a partition it never reported counts as
// committed to 0. Registrations survive reopen through consumers.json,
// saved by EnforceRetention and Close, so after a restart they are at worst
// behind, never ahead. A bad p, or a call after Close, is ignored.
func (l *Log) SetCommitted(consumer string, p int, off int64) {
	if p < 0 || p >= len(l.parts) {
		return
	}
	l.cmu.Lock()
	defer l.cmu.Unlock()
	c := l.consumers[consumer]
	if c == nil {
		c = make([]int64, len(l.parts))
		l.consumers[consumer] = c
	}
	if c[p] != off {
		c[p] = off
		l.consumersDirty = true
	}
}

// RemoveConsumer unregisters consumer so it no longer holds back retention.
func (l *Log) RemoveConsumer(consumer string) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if _, ok := l.consumers[consumer]; ok {
		delete(l.consumers, consumer)
		l.consumersDirty = true
	}
}

// Committed returns consumer's committed offset for partition p, or -1 if
// the consumer is not registered or p is bad.
func (l *Log) Committed(consumer string, p int) int64 {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	c := l.consumers[consumer]
	if c == nil || p < 0 || p >= len(c) {
		return -1
	}
	return c[p]
}

// EnforceRetention deletes, oldest first, each segment that is not the
// last of its partition, was last appended to at least Retention before
// Now, and that every registered consumer has committed past (committed
// offset >= the segment's end). It first saves the committed offsets. A
// Reader positioned in a deleted segment keeps reading it; one that needs a
// deleted segment gets an ErrOutOfRange error. The caller decides when to
// run it, for example on a ticker.
func (l *Log) EnforceRetention() (deletedSegments int, err error) {
	const op = "seglog.EnforceRetention"
	l.retMu.Lock()
	defer l.retMu.Unlock()
	if err := l.usable(op); err != nil {
		return 0, err
	}
	if err := l.saveConsumers(); err != nil {
		return 0, reco.E(op, reco.Other, err)
	}
	l.cmu.Lock()
	var commits [][]int64
	for _, c := range l.consumers {
		commits = append(commits, slices.Clone(c))
	}
	l.cmu.Unlock()

	cutoff := l.opts.Now().Add(-l.opts.Retention)
	var errs []error
	for _, p := range l.parts {
		p.mu.Lock()
		k := 0
		for k < len(p.segs)-1 {
			s := p.segs[k]
			end := p.segs[k+1].base
			if s.lastAppend.After(cutoff) || !committedPast(commits, p.id, end) {
				break
			}
			k++
		}
		gone := slices.Clone(p.segs[:k])
		p.segs = slices.Clone(p.segs[k:])
		p.mu.Unlock()
		for _, s := range gone {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", s.path, err))
				continue
			}
			deletedSegments++
			if h := l.opts.Hooks.OnRetention; h != nil {
				h(p.id, s.base, s.size)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return deletedSegments, reco.E(op, reco.Other, err)
	}
	return deletedSegments, nil
}

func committedPast(commits [][]int64, p int, end int64) bool {
	for _, c := range commits {
		if c[p] < end {
			return false
		}
	}
	return true
}

func (l *Log) loadConsumers() error {
	b, err := os.ReadFile(filepath.Join(l.opts.Dir, consumersName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read consumers: %w", err)
	}
	var m map[string][]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parse %s: %w", consumersName, err)
	}
	for name, c := range m {
		if len(c) != len(l.parts) {
			return fmt.Errorf("%s: consumer %q has %d partitions, want %d", consumersName, name, len(c), len(l.parts))
		}
		l.consumers[name] = c
	}
	return nil
}

func (l *Log) saveConsumers() error {
	l.cmu.Lock()
	if !l.consumersDirty {
		l.cmu.Unlock()
		return nil
	}
	b, err := json.Marshal(l.consumers)
	l.consumersDirty = false
	l.cmu.Unlock()
	if err != nil {
		return fmt.Errorf("encode consumers: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(l.opts.Dir, consumersName), b); err != nil {
		l.cmu.Lock()
		l.consumersDirty = true
		l.cmu.Unlock()
		return err
	}
	return nil
}
