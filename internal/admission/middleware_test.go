package admission

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// trapBody fails the test if the middleware reads a shed request's body.
type trapBody struct {
	t *testing.T
}

func (b trapBody) Read([]byte) (int, error) {
	b.t.Error("body of a shed request was read")
	return 0, io.EOF
}

func TestMiddlewareSheds(t *testing.T) {
	l := mustNew(t, Options{Initial: 10, Now: newClock().Now}) // Low 7, Normal 9, High 10
	for range 9 {
		l.Acquire(High)
	}
	called := false
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), nil)

	for _, tt := range []struct {
		header string
		want   int
		msg    string
	}{
		{"low", 503, "overloaded: shed (priority low)"},
		{"", 503, "overloaded: shed (priority normal)"},
		{"bogus", 503, "overloaded: shed (priority normal)"},
		{"HIGH", 200, ""},
	} {
		called = false
		req := httptest.NewRequest("POST", "/v1/recommend", trapBody{t})
		if tt.header != "" {
			req.Header.Set("X-Priority", tt.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("X-Priority %q: status %d, want %d", tt.header, rec.Code, tt.want)
		}
		if tt.want == 200 {
			if !called {
				t.Errorf("X-Priority %q: next not called", tt.header)
			}
			continue
		}
		if called {
			t.Errorf("X-Priority %q: next called for a shed request", tt.header)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q, want 1", got)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		var body struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tt.msg {
			t.Errorf("body %q (%v), want error %q", rec.Body, err, tt.msg)
		}
	}
	s := l.Stats()
	if s.Shed[Low] != 1 || s.Shed[Normal] != 2 || s.Shed[High] != 0 || s.InFlight != 9 {
		t.Errorf("stats %+v", s)
	}
}

func TestMiddlewarePassesThrough(t *testing.T) {
	l := mustNew(t, Options{Now: newClock().Now})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := l.Stats().InFlight; got != 1 {
			t.Errorf("in flight inside the handler: %d", got)
		}
		b, _ := io.ReadAll(r.Body)
		code := http.StatusCreated
		if string(b) == "fail" {
			code = http.StatusBadGateway
		}
		w.WriteHeader(code)
		w.Write(b)
	}), func(*http.Request) Priority { return Low })

	for _, body := range []string{"ok", "fail"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/events", strings.NewReader(body)))
		if rec.Body.String() != body {
			t.Errorf("body %q, want %q", rec.Body, body)
		}
	}
	s := l.Stats()
	if s.InFlight != 0 || s.Admitted != 2 || s.Failed != 1 {
		t.Errorf("stats %+v; want 0 in flight, 2 admitted, 1 failed (the 502)", s)
	}
}

func TestMiddlewareReleasesOnPanic(t *testing.T) {
	l := mustNew(t, Options{Now: newClock().Now})
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), nil)
	func() {
		defer func() { recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if s := l.Stats(); s.InFlight != 0 || s.Failed != 1 {
		t.Errorf("stats %+v; want the panicking request released as failed", s)
	}
}

func TestMiddlewareKeepsFlusher(t *testing.T) {
	l := mustNew(t, Options{Now: newClock().Now})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Fatal("wrapped writer is not an http.Flusher")
		}
		f.Flush()
	}), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("Flush did not reach the recorder")
	}
}

func TestPriorityFromHeader(t *testing.T) {
	for in, want := range map[string]Priority{"high": High, "Low": Low, "normal": Normal, "": Normal, "9": Normal} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Priority", in)
		if got := PriorityFromHeader(r); got != want {
			t.Errorf("X-Priority %q: %v, want %v", in, got, want)
		}
	}
}

// TestWithOverflow: beyond the limit, normal and high priority requests
// get the overflow answer while its own limiter admits them, low priority
// is shed, and overflow never counts toward the main limit.
func TestWithOverflow(t *testing.T) {
	l := mustNew(t, Options{Initial: 10, Now: newClock().Now}) // Low 7, Normal 9, High 10
	for range 10 {
		l.Acquire(High) // full for every priority
	}
	ol := mustNew(t, Options{Initial: 4, Min: 4, Max: 4, Now: newClock().Now}) // Normal 3, High 4
	inflight := l.Stats().InFlight
	var nextCalls, overCalls int
	block := make(chan struct{})
	entered := make(chan struct{}, 8)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { nextCalls++ })
	over := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		overCalls++
		if r.Header.Get("X-Block") != "" {
			entered <- struct{}{}
			<-block
		}
		w.Write([]byte("degraded"))
	})
	h := l.WithOverflow(next, over, ol, nil)
	send := func(prio string, blockIt bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/recommend", strings.NewReader(`{}`))
		req.Header.Set("X-Priority", prio)
		if blockIt {
			req.Header.Set("X-Block", "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := send("normal", false); rec.Code != 200 || rec.Body.String() != "degraded" {
		t.Fatalf("normal beyond the limit: %d %q, want the overflow answer", rec.Code, rec.Body)
	}
	if rec := send("high", false); rec.Code != 200 || rec.Body.String() != "degraded" {
		t.Fatalf("high beyond the limit: %d %q, want the overflow answer", rec.Code, rec.Body)
	}
	if rec := send("low", false); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("low beyond the limit: %d, want 503 with Retry-After", rec.Code)
	}
	// Three blocked requests fill the overflow limiter for normal priority.
	done := make(chan *httptest.ResponseRecorder, 3)
	for range 3 {
		go func() { done <- send("normal", true) }()
		<-entered
	}
	if rec := send("normal", false); rec.Code != 503 {
		t.Fatalf("with overflow full: %d, want 503", rec.Code)
	}
	close(block)
	for range 3 {
		if rec := <-done; rec.Code != 200 {
			t.Fatalf("a blocked overflow request: %d", rec.Code)
		}
	}
	if nextCalls != 0 || overCalls != 5 {
		t.Fatalf("next called %d times, overflow %d; want 0 and 5", nextCalls, overCalls)
	}
	if got := l.Stats().InFlight; got != inflight {
		t.Fatalf("in flight %d after overflow requests, want %d (overflow does not count)", got, inflight)
	}
}
