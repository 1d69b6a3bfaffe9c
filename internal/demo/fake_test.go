package demo

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a small stand-in for reco's HTTP API (docs/API.md): it
// validates and stores products and events strictly, and answers
// recommendations with a strategy the test picks.
type fakeServer struct {
	URL string
	srv *httptest.Server

	// Set before the run starts.
	strategy    string          // "taste" (default), "random" or "ab" (alternating, with an experiment field)
	failEvents  int             // if > 0, every failEvents-th event batch is answered 503
	onRecommend func(calls int) // called after each recommend with the count so far
	onEvents    func(total int) // called after each accepted batch with the event count so far

	mu             sync.Mutex
	rng            *rand.Rand
	products       map[string]map[string]any
	order          []string            // product ids in upload order
	byCategory     map[string][]string // product ids by category, in upload order
	inStock        map[string]bool
	productBatches []int
	eventBatches   int
	events         []map[string]any // in arrival order
	problems       []string         // every validation failure seen
	requestIDs     map[string]bool
	recCalls       int
	views          map[string]map[string]int // user → category → views
	productViews   map[string]int
	purchased      map[string]map[string]bool // user → product
}

func newFake(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		rng:          rand.New(rand.NewPCG(7, 7)),
		products:     map[string]map[string]any{},
		byCategory:   map[string][]string{},
		inStock:      map[string]bool{},
		requestIDs:   map[string]bool{},
		views:        map[string]map[string]int{},
		productViews: map[string]int{},
		purchased:    map[string]map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/products", f.putProducts)
	mux.HandleFunc("POST /v1/events", f.postEvents)
	mux.HandleFunc("POST /v1/recommend", f.recommend)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL, f.srv = srv.URL, srv
	return f
}

// decodeBody reads one object, an array, or NDJSON, keeping numbers exact.
func decodeBody(r *http.Request) ([]map[string]any, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r.Body); err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		var out []map[string]any
		sc := bufio.NewScanner(&b)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			d := json.NewDecoder(bytes.NewReader(line))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				return nil, fmt.Errorf("line %d: %w", len(out), err)
			}
			out = append(out, m)
		}
		return out, sc.Err()
	}
	d := json.NewDecoder(&b)
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}, nil
	case []any:
		out := make([]map[string]any, len(v))
		for i, x := range v {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is not an object", i)
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, fmt.Errorf("body is neither an object nor an array")
}

func isInt(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

func num64(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func isID(v any) bool {
	s, ok := v.(string)
	return (ok && s != "") || isInt(v)
}

// idKey is an id as a map key; integers and strings stay distinct.
func idKey(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprintf("#%v", v)
}

var eventTypes = map[string]bool{evView: true, evClick: true, evCart: true, evUncart: true, evPurchase: true, evReview: true}

// checkEvent lists what is wrong with e per docs/API.md.
func checkEvent(e map[string]any) []string {
	var bad []string
	for k, v := range e {
		ok := true
		switch k {
		case "user_id", "product_id":
			ok = isID(v)
		case "event_type":
			s, _ := v.(string)
			ok = eventTypes[s]
		case "session_id", "category", "request_id":
			_, ok = v.(string)
		case "price":
			f, isNum := num64(v)
			ok = isNum && f >= 0
		case "quantity":
			f, _ := num64(v)
			ok = isInt(v) && f >= 1
		case "rating":
			f, _ := num64(v)
			ok = isInt(v) && f >= 1 && f <= 5 && e["event_type"] == evReview
		case "timestamp":
			if s, isStr := v.(string); isStr {
				_, err := time.Parse(time.RFC3339Nano, s)
				ok = err == nil
			} else {
				ok = isInt(v)
			}
		default:
			ok = false // unknown field
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s=%v", k, v))
		}
	}
	for _, k := range []string{"user_id", "event_type", "product_id"} {
		if _, ok := e[k]; !ok {
			bad = append(bad, k+" missing")
		}
	}
	if _, ok := e["rating"]; e["event_type"] == evReview && !ok {
		bad = append(bad, "rating missing for review")
	}
	return bad
}

func checkProduct(p map[string]any) []string {
	var bad []string
	for k, v := range p {
		ok := true
		switch k {
		case "product_id":
			ok = isID(v)
		case "category", "name":
			_, ok = v.(string)
		case "price":
			f, isNum := num64(v)
			ok = isNum && f >= 0
		case "inventory":
			f, _ := num64(v)
			ok = isInt(v) && f >= 0
		case "margin":
			_, ok = num64(v)
		case "promoted", "available":
			_, ok = v.(bool)
		case "attributes":
			m, isMap := v.(map[string]any)
			ok = isMap
			for _, a := range m {
				if _, s := a.(string); !s {
					ok = false
				}
			}
		default:
			ok = false
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if _, ok := p["product_id"]; !ok {
		bad = append(bad, "product_id missing")
	}
	return bad
}

func (f *fakeServer) refuse(w http.ResponseWriter, problems []string) {
	f.mu.Lock()
	f.problems = append(f.problems, problems...)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"error": "invalid", "details": problems})
}

func (f *fakeServer) putProducts(w http.ResponseWriter, r *http.Request) {
	ps, err := decodeBody(r)
	if err != nil {
		f.refuse(w, []string{"products: " + err.Error()})
		return
	}
	var bad []string
	for i, p := range ps {
		for _, b := range checkProduct(p) {
			bad = append(bad, fmt.Sprintf("product %d: %s", i, b))
		}
	}
	if len(bad) > 0 {
		f.refuse(w, bad)
		return
	}
	f.mu.Lock()
	f.productBatches = append(f.productBatches, len(ps))
	for _, p := range ps {
		id := idKey(p["product_id"])
		if _, dup := f.products[id]; !dup {
			f.order = append(f.order, id)
			cat, _ := p["category"].(string)
			f.byCategory[cat] = append(f.byCategory[cat], id)
		}
		f.products[id] = p
		inv, _ := num64(p["inventory"])
		f.inStock[id] = inv > 0
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `{"upserted":%d}`, len(ps))
}

func (f *fakeServer) postEvents(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		f.refuse(w, []string{"events content type " + ct})
		return
	}
	evs, err := decodeBody(r)
	if err != nil {
		f.refuse(w, []string{"events: " + err.Error()})
		return
	}
	var bad []string
	for i, e := range evs {
		for _, b := range checkEvent(e) {
			bad = append(bad, fmt.Sprintf("event %d: %s", i, b))
		}
	}
	if len(bad) > 0 {
		f.refuse(w, bad)
		return
	}
	f.mu.Lock()
	f.eventBatches++
	if f.failEvents > 0 && f.eventBatches%f.failEvents == 0 {
		f.mu.Unlock()
		http.Error(w, `{"error":"log unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	for _, e := range evs {
		u, p := idKey(e["user_id"]), idKey(e["product_id"])
		switch e["event_type"] {
		case evView:
			if f.views[u] == nil {
				f.views[u] = map[string]int{}
			}
			cat, _ := f.products[p]["category"].(string)
			f.views[u][cat]++
			f.productViews[p]++
		case evPurchase:
			if f.purchased[u] == nil {
				f.purchased[u] = map[string]bool{}
			}
			f.purchased[u][p] = true
		}
	}
	f.events = append(f.events, evs...)
	total, hook := len(f.events), f.onEvents
	f.mu.Unlock()
	if hook != nil {
		hook(total)
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"accepted":%d}`, len(evs))
}

func (f *fakeServer) recommend(w http.ResponseWriter, r *http.Request) {
	d := json.NewDecoder(r.Body)
	d.UseNumber()
	var req map[string]any
	if err := d.Decode(&req); err != nil || !isID(req["user_id"]) {
		f.refuse(w, []string{fmt.Sprintf("recommend: bad request %v %v", req, err)})
		return
	}
	n := 10
	if v, ok := req["num_recommendations"]; ok {
		x, _ := num64(v)
		n = int(x)
	}
	u := idKey(req["user_id"])

	f.mu.Lock()
	f.recCalls++
	calls := f.recCalls
	reqID := fmt.Sprintf("r-%d", calls)
	f.requestIDs[reqID] = true
	strategy, source := f.strategy, ""
	var exp map[string]string
	if strategy == "ab" {
		strategy = "random"
		if f.rng.IntN(2) == 0 {
			strategy = "taste"
		}
		exp = map[string]string{"id": "exp1", "variant": strategy}
	}
	var ids []string
	if strategy != "random" {
		ids, source = f.tasteLocked(u, n), "category_popular"
	}
	if len(ids) == 0 {
		ids, source = f.randomLocked(u, n), "random"
	}
	recs := make([]map[string]any, len(ids))
	for i, id := range ids {
		p := f.products[id]
		recs[i] = map[string]any{"product_id": p["product_id"], "score": 1 / float64(i+1),
			"category": p["category"], "price": p["price"], "source": source}
	}
	hook := f.onRecommend
	f.mu.Unlock()

	resp := map[string]any{"user_id": req["user_id"], "request_id": reqID, "model_version": "fake",
		"latency_ms": 0.1, "recommendations": recs}
	if exp != nil {
		resp["experiment"] = exp
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
	if hook != nil {
		hook(calls)
	}
}

func (f *fakeServer) eligibleLocked(u, id string) bool {
	return f.inStock[id] && !f.purchased[u][id]
}

// tasteLocked is the most viewed products of u's most viewed category.
func (f *fakeServer) tasteLocked(u string, n int) []string {
	fav, best := "", 0
	for c, v := range f.views[u] {
		if v > best || (v == best && c < fav) {
			fav, best = c, v
		}
	}
	if fav == "" {
		return nil
	}
	var ids []string
	for _, id := range f.byCategory[fav] {
		if f.eligibleLocked(u, id) {
			ids = append(ids, id)
		}
	}
	slices.SortStableFunc(ids, func(a, b string) int { return cmp.Compare(f.productViews[b], f.productViews[a]) })
	return ids[:min(n, len(ids))]
}

func (f *fakeServer) randomLocked(u string, n int) []string {
	seen := map[string]bool{}
	var ids []string
	for tries := 0; len(ids) < n && tries < 20*n && len(f.order) > 0; tries++ {
		id := f.order[f.rng.IntN(len(f.order))]
		if !seen[id] && f.eligibleLocked(u, id) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// snapshot returns copies of what the server received.
func (f *fakeServer) snapshot() (events []map[string]any, batches []int, problems []string, reqIDs map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events), slices.Clone(f.productBatches), slices.Clone(f.problems), maps.Clone(f.requestIDs)
}
