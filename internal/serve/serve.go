// Package serve is reco's HTTP API. It decodes requests, calls the domain
// services, and is the only place where error kinds become status codes.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/recommend"
)

// Ingester accepts events and catalog upserts. Both return only after the
// whole batch is durable, or an error and nothing applied.
type Ingester interface {
	IngestEvents(ctx context.Context, evs []event.Event) error
	UpsertProducts(ctx context.Context, ps []event.Product) error
}

// Recommender answers recommendation requests.
type Recommender interface {
	Recommend(ctx context.Context, req recommend.Request) (*recommend.Response, error)
}

// FeatureReader serves feature values.
type FeatureReader interface {
	UserFeatures(id string) (feature.UserFeatures, bool)
	ProductFeatures(id string) (feature.ProductFeatures, bool)
	// EntityViews returns, per feature view of the entity kind ("user" or
	// "product"), each feature's value with its status and age.
	EntityViews(entity, id string) map[string]map[string]any
	Similar(id string, n int) ([]recommend.Item, bool)
}

// Hooks observe the API.
type Hooks struct {
	OnRequest  func(route string, code int, took time.Duration)
	OnIngested func(evs []event.Event)
	OnRejected func(reason string, n int)
	OnProducts func(n int)
}

// Options configure the API.
type Options struct {
	MaxBodyBytes int64 // 0 means 16 MiB
	MaxBatch     int   // 0 means 10,000
	MaxResults   int   // largest num_recommendations; 0 means 100
	Timeout      time.Duration
	Ready        func() bool
	Metrics      http.Handler
	Hooks        Hooks
	Logger       *slog.Logger
	Now          func() time.Time
	Models       ModelAdmin      // nil: no model endpoints
	Experiments  ExperimentAdmin // nil: no experiment endpoints
	Analytics    http.Handler    // serves /v1/analytics/...; nil: none
	FeatureViews func() any      // GET /v1/feature-views; nil: none
	// Admit, if set, wraps a route's handler with admission control (load
	// shedding); it is called for every route by name. overflow, when not
	// nil (recommend), answers the same request cheaply (precomputed or
	// popular items, no online-store round trip) for a traffic spike.
	Admit      func(route string, h, overflow http.Handler) http.Handler
	IngestKeys []string // keys for events and products (admin keys work too); none: open
	AdminKeys  []string // keys for admin endpoints; none: open
}

// Server is the HTTP API.
type Server struct {
	ing  Ingester
	rec  Recommender
	feat FeatureReader
	opt  Options
	mux  *http.ServeMux

	ingestKeys, adminKeys keySet
}

// New builds the API over the services.
func New(ing Ingester, rec Recommender, feat FeatureReader, o Options) *Server {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 10000
	}
	if o.MaxResults == 0 {
		o.MaxResults = 100
	}
	if o.Ready == nil {
		o.Ready = func() bool { return true }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{ing: ing, rec: rec, feat: feat, opt: o, mux: http.NewServeMux(),
		ingestKeys: newKeySet(o.IngestKeys), adminKeys: newKeySet(o.AdminKeys)}
	s.route("POST /v1/events", "events", s.ingest(s.postEvents))
	s.route("PUT /v1/products", "products", s.ingest(s.putProducts))
	s.route("POST /v1/products", "products", s.ingest(s.putProducts))
	s.routeModels()
	s.routeExperiments()
	s.route("POST /v1/recommend", "recommend", s.postRecommend)
	s.route("GET /v1/users/{id}/features", "user_features", s.getUserFeatures)
	s.route("GET /v1/products/{id}/features", "product_features", s.getProductFeatures)
	s.route("GET /v1/products/{id}/similar", "similar", s.getSimilar)
	s.route("GET /health", "health", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
		return nil
	})
	s.route("GET /ready", "ready", func(w http.ResponseWriter, r *http.Request) error {
		if !s.opt.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "replaying"})
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	if o.Metrics != nil {
		s.mux.Handle("GET /metrics", o.Metrics)
	}
	if o.FeatureViews != nil {
		s.route("GET /v1/feature-views", "feature_views", func(w http.ResponseWriter, r *http.Request) error {
			writeJSON(w, http.StatusOK, o.FeatureViews())
			return nil
		})
	}
	if o.Analytics != nil {
		s.mux.Handle("GET /v1/analytics/", o.Analytics)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request) error

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) route(pattern, name string, h handler) {
	hh := s.wrap(name, h)
	if s.opt.Admit != nil {
		var overflow http.Handler
		if name == "recommend" {
			overflow = s.wrap(name, func(w http.ResponseWriter, r *http.Request) error {
				return s.postRecommend(w, r.WithContext(context.WithValue(r.Context(), overloadKey{}, true)))
			})
		}
		hh = s.opt.Admit(name, hh, overflow)
	}
	s.mux.Handle(pattern, hh)
}

// overloadKey marks a recommend request that admission control sent to
// the overflow path.
type overloadKey struct{}

// wrap turns h into a handler that limits the body, writes errors and
// reports the request.
func (s *Server) wrap(name string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.opt.MaxBodyBytes)
		}
		if err := h(sw, r); err != nil {
			s.writeErr(sw, r, err)
		}
		if hk := s.opt.Hooks.OnRequest; hk != nil {
			hk(name, sw.code, time.Since(start))
		}
	})
}

// statusOf is the one table from error kinds to HTTP status codes.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch reco.KindOf(err) {
	case reco.Invalid:
		return http.StatusBadRequest
	case reco.TooLarge:
		return http.StatusRequestEntityTooLarge
	case reco.NotFound:
		return http.StatusNotFound
	case reco.Unavailable:
		return http.StatusServiceUnavailable
	case reco.NoSpace:
		return http.StatusInsufficientStorage
	case reco.Conflict:
		return http.StatusConflict
	case reco.Unauthenticated:
		return http.StatusUnauthorized
	case reco.Forbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	var details []event.FieldError
	var ve *event.ValidationError
	if errors.As(err, &ve) {
		details = ve.Fields
	}
	msg := err.Error()
	var re *reco.Error
	if code < 500 && errors.As(err, &re) {
		msg = re.Err.Error() // the operation names are for logs, not users
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		msg = "request body larger than the limit of " + itoa(mbe.Limit) + " bytes"
	}
	if code >= 500 {
		s.opt.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if code == http.StatusServiceUnavailable || code == http.StatusInsufficientStorage {
			w.Header().Set("Retry-After", "1")
		}
		if code == http.StatusInternalServerError {
			msg = "internal error"
		}
	}
	writeError(w, code, msg, details)
}

type errorBody struct {
	Error   string             `json:"error"`
	Details []event.FieldError `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string, details []event.FieldError) {
	writeJSON(w, code, errorBody{Error: msg, Details: details})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func (s *Server) limits() event.Limits { return event.Limits{MaxItems: s.opt.MaxBatch} }

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	evs, err := event.DecodeEvents(r.Body, s.opt.Now(), s.limits())
	if err != nil {
		if hk := s.opt.Hooks.OnRejected; hk != nil {
			hk(reco.KindOf(err).String(), 1)
		}
		return err
	}
	if err := s.ing.IngestEvents(r.Context(), evs); err != nil {
		if hk := s.opt.Hooks.OnRejected; hk != nil {
			hk(reco.KindOf(err).String(), len(evs))
		}
		return err
	}
	if hk := s.opt.Hooks.OnIngested; hk != nil {
		hk(evs)
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(evs)})
	return nil
}

func (s *Server) putProducts(w http.ResponseWriter, r *http.Request) error {
	ps, err := event.DecodeProducts(r.Body, s.opt.Now(), s.limits())
	if err != nil {
		return err
	}
	if err := s.ing.UpsertProducts(r.Context(), ps); err != nil {
		return err
	}
	if hk := s.opt.Hooks.OnProducts; hk != nil {
		hk(len(ps))
	}
	writeJSON(w, http.StatusOK, map[string]int{"upserted": len(ps)})
	return nil
}

type recommendRequest struct {
	UserID             event.ID       `json:"user_id"`
	SessionID          *string        `json:"session_id"`
	Context            map[string]any `json:"context"`
	NumRecommendations *float64       `json:"num_recommendations"`
	Exclude            []string       `json:"exclude"`
	Explain            bool           `json:"explain"`
}

type recommendResponse struct {
	UserID          event.ID         `json:"user_id"`
	RequestID       string           `json:"request_id"`
	Recommendations []recommend.Item `json:"recommendations"`
	ModelVersion    string           `json:"model_version"`
	Fallback        string           `json:"fallback,omitempty"`
	Experiment      *experimentArm   `json:"experiment,omitempty"`
	LatencyMs       float64          `json:"latency_ms"`
}

type experimentArm struct {
	ID      string `json:"id"`
	Variant string `json:"variant"`
}

func (s *Server) postRecommend(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	const op = "serve.recommend"
	var req recommendRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return reco.E(op, reco.Invalid, &event.ValidationError{Fields: []event.FieldError{{Index: -1, Field: te.Field, Message: "wrong type"}}})
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return reco.Errorf(op, reco.Invalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	var bad []event.FieldError
	switch {
	case req.UserID.Form == 0:
		bad = append(bad, event.FieldError{Index: -1, Field: "user_id", Message: "required"})
	case !req.UserID.Valid:
		bad = append(bad, event.FieldError{Index: -1, Field: "user_id", Message: "must be a non-empty string or an integer"})
	}
	n := 10
	if req.NumRecommendations != nil {
		v := *req.NumRecommendations
		if v < 1 || v > float64(s.opt.MaxResults) || v != math.Trunc(v) {
			bad = append(bad, event.FieldError{Index: -1, Field: "num_recommendations", Message: "must be an integer from 1 to " + itoa(int64(s.opt.MaxResults))})
		} else {
			n = int(v)
		}
	}
	if len(bad) > 0 {
		return reco.E(op, reco.Invalid, &event.ValidationError{Fields: bad})
	}
	ctx := r.Context()
	if s.opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opt.Timeout)
		defer cancel()
	}
	rq := recommend.Request{UserID: req.UserID.S, Context: req.Context, N: n, Exclude: req.Exclude, Explain: req.Explain,
		Overloaded: ctx.Value(overloadKey{}) != nil}
	if req.SessionID != nil {
		rq.SessionID = *req.SessionID
	}
	resp, err := s.rec.Recommend(ctx, rq)
	if err != nil {
		return err
	}
	items := resp.Items
	if items == nil {
		items = []recommend.Item{}
	}
	out := recommendResponse{
		UserID: req.UserID, RequestID: resp.RequestID, Recommendations: items, ModelVersion: resp.ModelVersion,
		Fallback: resp.Fallback, LatencyMs: math.Round(float64(time.Since(start).Microseconds())) / 1000,
	}
	if resp.Experiment != "" {
		out.Experiment = &experimentArm{ID: resp.Experiment, Variant: resp.Variant}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUserFeatures(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	f, ok := s.feat.UserFeatures(id)
	if !ok {
		return reco.Errorf("serve.userFeatures", reco.NotFound, "unknown user %q", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": id, "features": f, "views": s.feat.EntityViews("user", id)})
	return nil
}

func (s *Server) getProductFeatures(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	f, ok := s.feat.ProductFeatures(id)
	if !ok {
		return reco.Errorf("serve.productFeatures", reco.NotFound, "unknown product %q", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"product_id": id, "features": f, "views": s.feat.EntityViews("product", id)})
	return nil
}

func (s *Server) getSimilar(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	items, ok := s.feat.Similar(id, 10)
	if !ok {
		return reco.Errorf("serve.similar", reco.NotFound, "unknown product %q", id)
	}
	if items == nil {
		items = []recommend.Item{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"product_id": id, "similar": items})
	return nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
