package offline

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/breaker"
)

// flakyBucket fails every call with err while down; it counts calls.
type flakyBucket struct {
	down  bool
	calls int
}

func (f *flakyBucket) result() error {
	f.calls++
	if f.down {
		return errors.New("connection refused")
	}
	return reco.Errorf("get", reco.NotFound, "no such key")
}

func (f *flakyBucket) Put(context.Context, string, io.Reader, int64) error { return f.result() }
func (f *flakyBucket) Get(context.Context, string) (Object, error)         { return nil, f.result() }
func (f *flakyBucket) List(context.Context, string) ([]ObjectInfo, error)  { return nil, f.result() }
func (f *flakyBucket) Delete(context.Context, string) error                { return f.result() }

func TestGuardedBucket(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	fb := &flakyBucket{}
	var opened []bool
	g := Guarded(fb, breaker.New(3, 5*time.Second, clock, func(open bool) { opened = append(opened, open) }))
	ctx := context.Background()
	// NotFound is an answer: it never opens the breaker.
	for i := 0; i < 10; i++ {
		if _, err := g.Get(ctx, "k"); reco.KindOf(err) != reco.NotFound {
			t.Fatalf("Get = %v, want NotFound", err)
		}
	}
	fb.down = true
	for i := 0; i < 3; i++ {
		if err := g.Put(ctx, "k", nil, 0); err == nil {
			t.Fatal("Put succeeded while down")
		}
	}
	calls := fb.calls
	// Open: calls fail fast as Unavailable, without reaching the bucket.
	if _, err := g.List(ctx, ""); reco.KindOf(err) != reco.Unavailable || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("List while open = %v, want Unavailable wrapping ErrOpen", err)
	}
	if fb.calls != calls {
		t.Fatalf("the open breaker let %d calls through", fb.calls-calls)
	}
	// After the cooldown one probe goes through; it succeeds and closes.
	fb.down = false
	now = now.Add(6 * time.Second)
	if err := g.Delete(ctx, "k"); reco.KindOf(err) != reco.NotFound {
		t.Fatalf("probe = %v", err)
	}
	if _, err := g.Get(ctx, "k"); reco.KindOf(err) != reco.NotFound {
		t.Fatalf("after recovery = %v", err)
	}
	if len(opened) != 2 || !opened[0] || opened[1] {
		t.Fatalf("breaker changes %v, want [true false]", opened)
	}
}
