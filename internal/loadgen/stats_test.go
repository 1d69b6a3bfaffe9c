package loadgen

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100) // 1ms..100ms
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	thousand := make([]time.Duration, 1000) // 1ms..1000ms
	for i := range thousand {
		thousand[i] = ms(i + 1)
	}
	tests := []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{ms(7)}, 0.99, ms(7)},
		{"two p50 is lower", []time.Duration{ms(1), ms(2)}, 0.5, ms(1)},
		{"two p99 is upper", []time.Duration{ms(1), ms(2)}, 0.99, ms(2)},
		{"100 p50", hundred, 0.50, ms(50)},
		{"100 p95", hundred, 0.95, ms(95)},
		{"100 p99", hundred, 0.99, ms(99)},
		{"100 p99.9", hundred, 0.999, ms(100)},
		{"100 p7 float noise", hundred, 0.07, ms(7)},
		{"100 max", hundred, 1, ms(100)},
		{"1000 p99.9", thousand, 0.999, ms(999)},
		{"1000 p99", thousand, 0.99, ms(990)},
		{"1000 p50", thousand, 0.5, ms(500)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.q); got != tt.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tt.samples), tt.q, got, tt.want)
			}
		})
	}
}

func TestRecorderResult(t *testing.T) {
	rec := newRecorder(0)
	// Shuffled 1..100ms samples, measured; plus warmup samples that must not count.
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lat), func(i, j int) { lat[i], lat[j] = lat[j], lat[i] })
	for i, l := range lat {
		rec.sent(true, -1)
		o := outcome{measured: true, latency: l, ok: i%10 != 0, status: 200}
		if !o.ok {
			o.status = 503
		}
		rec.done(o)
	}
	for range 5 {
		rec.sent(false, -1)
		rec.done(outcome{latency: time.Hour, status: 500})
		rec.late(false, -1)
	}
	rec.late(true, -1)
	r := rec.result(Options{Scenario: ScenarioRecommend, Rate: 101}, time.Second)
	if r.Sent != 100 || r.OK != 90 || r.Errors != 10 || r.Late != 1 || r.Samples != 100 {
		t.Errorf("counts sent/ok/errors/late/samples = %d/%d/%d/%d/%d, want 100/90/10/1/100", r.Sent, r.OK, r.Errors, r.Late, r.Samples)
	}
	if want := map[int]int64{503: 10}; !equalMaps(r.ErrorsByStatus, want) {
		t.Errorf("ErrorsByStatus = %v, want %v", r.ErrorsByStatus, want)
	}
	got := []time.Duration{r.P50, r.P95, r.P99, r.P999, r.Max}
	want := []time.Duration{50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("p50/p95/p99/p99.9/max = %v, want %v", got, want)
	}
	if r.Throughput != 90 {
		t.Errorf("Throughput = %v, want 90", r.Throughput)
	}
}

func equalMaps[K comparable](a, b map[K]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
