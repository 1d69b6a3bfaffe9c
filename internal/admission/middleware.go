package admission

import (
	"net/http"
)

// PriorityHeader is the request header PriorityFromHeader reads.
const PriorityHeader = "X-Priority"

// PriorityFromHeader returns the priority named by the X-Priority header
// ("high", "normal" or "low", any case), and Normal when the header is
// missing or names something else.
func PriorityFromHeader(r *http.Request) Priority {
	p, _ := ParsePriority(r.Header.Get(PriorityHeader))
	return p
}

// shedBody holds the 503 body for each priority, built once.
var shedBody = func() (b [numPriorities][]byte) {
	for p := range Priority(numPriorities) {
		b[p] = []byte(`{"error":"overloaded: shed (priority ` + p.String() + `)"}` + "\n")
	}
	return b
}()

// Middleware admits each request through l before calling next. A refused
// request gets 503 Service Unavailable with "Retry-After: 1" and the JSON
// body {"error":"overloaded: shed (priority low)"} (naming its priority);
// its body is never read and next is not called. prio gives a request's
// priority; nil means PriorityFromHeader. An admitted request counts as
// failed, for the limit, if next answers 5xx or panics.
func (l *Limiter) Middleware(next http.Handler, prio func(*http.Request) Priority) http.Handler {
	if prio == nil {
		prio = PriorityFromHeader
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := prio(r)
		release, ok := l.Acquire(p)
		if !ok {
			l.refuse(w, p)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		failed := true // unless next returns
		defer func() { release(failed) }()
		next.ServeHTTP(sw, r)
		failed = sw.code >= 500
	})
}

// WithOverflow is Middleware, except that a request of normal or high
// priority that l does not admit is offered to overflow, a cheap degraded
// answer (for recommend: precomputed or popular items, with no
// online-store round trip), through its own limiter ol: a spike then costs
// quality, not availability, as long as the degraded answers stay fast; ol
// adapts to their latency like l does, so when even they slow down (the
// cores are saturated) the rest is shed with 503 before it queues and the
// admitted requests keep their latency. Low priority is never offered to
// overflow. Overflow requests count toward ol only; Hooks.OnShed of l
// still sees them (they are beyond its limit).
func (l *Limiter) WithOverflow(next, overflow http.Handler, ol *Limiter, prio func(*http.Request) Priority) http.Handler {
	if prio == nil {
		prio = PriorityFromHeader
	}
	degraded := ol.Middleware(overflow, prio)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := prio(r)
		release, ok := l.Acquire(p)
		if ok {
			sw := &statusWriter{ResponseWriter: w}
			failed := true
			defer func() { release(failed) }()
			next.ServeHTTP(sw, r)
			failed = sw.code >= 500
			return
		}
		if p == Low {
			l.refuse(w, p)
			return
		}
		degraded.ServeHTTP(w, r)
	})
}

// refuse answers 503 with Retry-After.
func (l *Limiter) refuse(w http.ResponseWriter, p Priority) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(shedBody[p.index()])
}

// statusWriter remembers the status code next wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that assert http.Flusher keep streaming.
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
