package breaker

import (
	"errors"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	now := time.Unix(0, 0)
	var changes []bool
	b := New(3, time.Second, func() time.Time { return now }, func(open bool) { changes = append(changes, open) })
	fail := errors.New("down")
	for i := 0; i < 2; i++ {
		if err := b.Allow(); err != nil {
			t.Fatal(err)
		}
		b.Done(fail)
	}
	if b.Open() {
		t.Fatal("open after 2 failures (threshold 3)")
	}
	b.Done(nil) // a success resets the count
	for i := 0; i < 3; i++ {
		b.Allow()
		b.Done(fail)
	}
	if !b.Open() || b.Allow() != ErrOpen {
		t.Fatal("not open after 3 consecutive failures")
	}
	now = now.Add(999 * time.Millisecond)
	if b.Allow() != ErrOpen {
		t.Fatal("let a call through during the cooldown")
	}
	now = now.Add(time.Millisecond)
	if err := b.Allow(); err != nil {
		t.Fatalf("no probe after the cooldown: %v", err)
	}
	if b.Allow() != ErrOpen {
		t.Fatal("a second call while the probe is out")
	}
	b.Done(fail) // the probe fails: open again, for another cooldown
	if b.Allow() != ErrOpen {
		t.Fatal("not open after a failed probe")
	}
	now = now.Add(time.Second)
	if err := b.Allow(); err != nil {
		t.Fatal(err)
	}
	b.Done(nil)
	if b.Open() || b.Allow() != nil {
		t.Fatal("not closed after a successful probe")
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("changes %v, want [open, closed]", changes)
	}
}
