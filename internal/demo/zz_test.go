package demo

import (
	"os"
	"testing"
	"time"
)

func TestZZ(t *testing.T) {
	f := newFake(t)
	f.failEvents = 3
	o := small(f.URL)
	o.Progress, o.progressEvery = os.Stderr, 250*time.Millisecond
	o.Duration = 2 * time.Second
	start := time.Now()
	r, _ := Run(t.Context(), o)
	t.Log(time.Since(start), r.CatalogUploadTime, r.Events, r.RecommendCalls, r.LatencyP50, r.LatencyP99, r.Errors)
}
