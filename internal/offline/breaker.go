package offline

import (
	"context"
	"io"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/breaker"
)

// Guarded returns b behind the circuit breaker br: while br is open every
// call fails at once with a reco.Unavailable error instead of waiting for a
// dependency that is down (S3 unreachable); a NotFound or Invalid answer is
// the dependency working, not failing.
func Guarded(b Bucket, br *breaker.Breaker) Bucket { return guarded{b, br} }

type guarded struct {
	b  Bucket
	br *breaker.Breaker
}

func (g guarded) call(op string, fn func() error) error {
	if err := g.br.Allow(); err != nil {
		return reco.E(op, reco.Unavailable, err)
	}
	err := fn()
	if err != nil {
		switch reco.KindOf(err) {
		case reco.NotFound, reco.Invalid, reco.Conflict:
			g.br.Done(nil) // an answer: the dependency works
			return err
		}
	}
	g.br.Done(err)
	return err
}

func (g guarded) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return g.call("offline.Put", func() error { return g.b.Put(ctx, key, r, size) })
}

func (g guarded) Get(ctx context.Context, key string) (Object, error) {
	var o Object
	err := g.call("offline.Get", func() error {
		var err error
		o, err = g.b.Get(ctx, key)
		return err
	})
	return o, err
}

func (g guarded) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := g.call("offline.List", func() error {
		var err error
		out, err = g.b.List(ctx, prefix)
		return err
	})
	return out, err
}

func (g guarded) Delete(ctx context.Context, key string) error {
	return g.call("offline.Delete", func() error { return g.b.Delete(ctx, key) })
}
