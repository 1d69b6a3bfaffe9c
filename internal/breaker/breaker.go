// Package breaker is a circuit breaker for calls to a dependency (Redis, S3,
// ClickHouse, Kafka): after Threshold consecutive failures it opens and
// fails fast for Cooldown, then lets one probe call through; a success
// closes it, a failure opens it again. Written by hand: it is twenty lines
// of state, and its behaviour is part of how reco degrades.
package breaker

import (
	"errors"
	"sync"
	"time"
)

// ErrOpen is returned while the breaker fails fast.
var ErrOpen = errors.New("circuit open: the dependency failed repeatedly; retrying shortly")

// Breaker guards one dependency. The zero value is not usable; use New.
type Breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool)

	mu       sync.Mutex
	failures int
	openedAt time.Time
	open     bool
	probing  bool
}

// New returns a closed breaker. onChange (may be nil) is told when it opens
// and closes.
func New(threshold int, cooldown time.Duration, now func() time.Time, onChange func(open bool)) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{threshold: threshold, cooldown: cooldown, now: now, onChange: onChange}
}

// Allow reports whether a call may go ahead; when it returns nil the caller
// must report the outcome with Done.
func (b *Breaker) Allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return nil
	}
	if b.probing || b.now().Sub(b.openedAt) < b.cooldown {
		return ErrOpen
	}
	b.probing = true // half open: one probe
	return nil
}

// Done records a call's outcome.
func (b *Breaker) Done(err error) {
	b.mu.Lock()
	changed, open := false, b.open
	if err == nil {
		b.failures = 0
		if b.open {
			b.open, b.probing, changed = false, false, true
		}
	} else {
		b.failures++
		if b.open {
			b.openedAt, b.probing = b.now(), false
		} else if b.failures >= b.threshold {
			b.open, b.openedAt, changed = true, b.now(), true
		}
	}
	open = b.open
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(open)
	}
}

// Open reports whether the breaker is open.
func (b *Breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}
