package demo

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// latReservoir bounds the recommend latency samples kept. Up to this many
// calls the percentiles are exact; beyond it they are exact over a uniform
// random sample of this size.
const latReservoir = 1 << 18

// stats accumulates what the workers observe. All methods are safe for
// concurrent use.
type stats struct {
	w *world

	mu          sync.Mutex
	start       time.Time
	simStart    time.Time
	uploaded    int
	events      int64
	byType      map[string]int64
	purchases   int64
	recPurch    int64
	revenue     float64
	recRevenue  float64
	sessions    int64
	recCalls    int64
	lat         []float64 // ms
	latSeen     int64
	latRand     *rand.Rand
	overall     Counts
	variants    map[string]*Counts
	sources     map[string]*Counts
	errors      map[string]int64
	errorSample map[string]string
	userEvents  []int64
	prodEvents  []int64
}

func newStats(o Options, w *world, start time.Time) *stats {
	return &stats{
		w:           w,
		start:       start,
		byType:      map[string]int64{},
		latRand:     newRand(o.Seed, streamReservoir),
		variants:    map[string]*Counts{},
		sources:     map[string]*Counts{},
		errors:      map[string]int64{},
		errorSample: map[string]string{},
		userEvents:  make([]int64, len(w.Users)),
		prodEvents:  make([]int64, len(w.Products)),
	}
}

func (s *stats) countError(key, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors[key]++
	if _, ok := s.errorSample[key]; !ok {
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		s.errorSample[key] = msg
	}
}

func (s *stats) addUploaded(n int) {
	s.mu.Lock()
	s.uploaded += n
	s.mu.Unlock()
}

func (s *stats) startSim() {
	s.mu.Lock()
	s.simStart = time.Now()
	s.mu.Unlock()
}

func (s *stats) addSession() {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
}

// addEvents records a batch the server accepted.
func (s *stats) addEvents(evs []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events += int64(len(evs))
	for i := range evs {
		e := &evs[i]
		s.byType[e.EventType]++
		if e.user >= 0 {
			s.userEvents[e.user]++
		}
		if e.product >= 0 {
			s.prodEvents[e.product]++
		}
		if e.EventType == evPurchase {
			amount := e.Price * float64(e.Quantity)
			s.purchases++
			s.revenue += amount
			if e.RequestID != "" {
				s.recPurch++
				s.recRevenue += amount
			}
		}
	}
}

// servedItem is one served recommendation and whether the user clicked it.
type servedItem struct {
	source  string
	clicked bool
}

// addList records one successful recommend call: its latency, the
// experiment variant ("" if none) and what the user did with each item.
func (s *stats) addList(took time.Duration, variant string, items []servedItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recCalls++
	ms := float64(took) / float64(time.Millisecond)
	s.latSeen++
	if len(s.lat) < latReservoir {
		s.lat = append(s.lat, ms)
	} else if j := s.latRand.Int64N(s.latSeen); j < latReservoir {
		s.lat[j] = ms
	}
	var vc *Counts
	if variant != "" {
		if vc = s.variants[variant]; vc == nil {
			vc = &Counts{}
			s.variants[variant] = vc
		}
	}
	clicked := false
	for _, it := range items {
		src := it.source
		if src == "" {
			src = "(none)"
		}
		sc := s.sources[src]
		if sc == nil {
			sc = &Counts{}
			s.sources[src] = sc
		}
		sc.Served++
		if it.clicked {
			sc.Clicks++
			clicked = true
		}
	}
	for _, c := range []*Counts{&s.overall, vc} {
		if c == nil {
			continue
		}
		c.Lists++
		c.Served += int64(len(items))
		for _, it := range items {
			if it.clicked {
				c.Clicks++
			}
		}
		if clicked {
			c.ListsClicked++
		}
	}
}

// progress is a cheap view for the progress line.
func (s *stats) progress() (elapsed time.Duration, events int64, p99, ctr float64) {
	s.mu.Lock()
	events = s.events
	lat := slices.Clone(s.lat)
	ctr = s.overall.CTR()
	elapsed = time.Since(s.start)
	s.mu.Unlock()
	slices.Sort(lat)
	return elapsed, events, percentile(lat, 99), ctr
}

func (s *stats) report(o Options) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{
		Seed:             o.Seed,
		Products:         len(s.w.Products),
		Categories:       len(s.w.Categories),
		Users:            len(s.w.Users),
		Concurrency:      o.Concurrency,
		ProductsUploaded: s.uploaded,
		Duration:         time.Since(s.start),
		Events:           s.events,
		EventsByType:     maps.Clone(s.byType),
		Sessions:         s.sessions,
		RecommendCalls:   s.recCalls,
		LatencySamples:   len(s.lat),
		Recommendations:  s.overall,
		Purchases:        s.purchases,
		Revenue:          cents(s.revenue),
		RecPurchases:     s.recPurch,
		RecRevenue:       cents(s.recRevenue),
		Variants:         map[string]Counts{},
		Sources:          map[string]Counts{},
		Errors:           maps.Clone(s.errors),
		ErrorSamples:     maps.Clone(s.errorSample),
		ExampleUserID:    s.exampleUser(),
		ExampleProductID: s.exampleProduct(),
	}
	if !s.simStart.IsZero() {
		r.CatalogUploadTime = s.simStart.Sub(s.start)
		if d := time.Since(s.simStart); d > 0 {
			r.EventsPerSec = float64(s.events) / d.Seconds()
		}
	}
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	r.LatencyP50, r.LatencyP95, r.LatencyP99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	if len(lat) > 0 {
		r.LatencyMax = lat[len(lat)-1]
	}
	for k, v := range s.variants {
		r.Variants[k] = *v
	}
	for k, v := range s.sources {
		r.Sources[k] = *v
	}
	return r
}

// exampleUser is the string-id user with the most accepted events, or the
// first string-id user if none has any.
func (s *stats) exampleUser() string {
	best, bestN := "", int64(-1)
	for i, n := range s.userEvents {
		if u := &s.w.Users[i]; !u.Numeric && n > bestN {
			best, bestN = u.ID, n
		}
	}
	return best
}

func (s *stats) exampleProduct() string {
	best, bestN := "", int64(-1)
	for i, n := range s.prodEvents {
		if n > bestN {
			best, bestN = s.w.Products[i].ID, n
		}
	}
	return best
}

// percentile is the nearest-rank p-th percentile of sorted xs, 0 if empty.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
