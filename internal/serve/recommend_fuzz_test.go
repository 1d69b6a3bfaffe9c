package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/recommend"
	"github.com/recohq/reco/internal/serve"
)

// fuzzIngester accepts everything.
type fuzzIngester struct{}

func (fuzzIngester) IngestEvents(context.Context, []event.Event) error     { return nil }
func (fuzzIngester) UpsertProducts(context.Context, []event.Product) error { return nil }

// fuzzRecommender answers with rq.N items and remembers the request.
type fuzzRecommender struct {
	last  recommend.Request
	calls int
}

func (r *fuzzRecommender) Recommend(_ context.Context, rq recommend.Request) (*recommend.Response, error) {
	r.last, r.calls = rq, r.calls+1
	items := make([]recommend.Item, 0, rq.N)
	for i := range rq.N {
		it := recommend.Item{ProductID: fmt.Sprintf("p%d", i), Score: 1 / float64(i+1), Category: "c", Price: 9.5,
			Source: "popular", Reason: rq.SessionID}
		if rq.Explain {
			it.Explanation = []recommend.Factor{{Feature: "f0", Value: 1, Contribution: 0.5}}
		}
		items = append(items, it)
	}
	resp := &recommend.Response{RequestID: "req-1", Items: items, ModelVersion: "rules-v1"}
	if len(rq.Exclude) > 0 {
		resp.Fallback = rq.Exclude[0]
		resp.Experiment, resp.Variant = "exp", rq.Exclude[0]
	}
	return resp, nil
}

// fuzzFeatures knows nothing.
type fuzzFeatures struct{}

func (fuzzFeatures) UserFeatures(string) (feature.UserFeatures, bool) {
	return feature.UserFeatures{}, false
}
func (fuzzFeatures) ProductFeatures(string) (feature.ProductFeatures, bool) {
	return feature.ProductFeatures{}, false
}
func (fuzzFeatures) EntityViews(string, string) map[string]map[string]any { return nil }
func (fuzzFeatures) Similar(string, int) ([]recommend.Item, bool)         { return nil, false }

// FuzzRecommendRequest posts arbitrary bodies to POST /v1/recommend of the
// real handler. It must never panic; the status is 200, 400 or 413; an
// error body is JSON with a non-empty "error"; a 200 echoes user_id exactly
// as sent (same JSON form, same value) and serves what was asked for.
func FuzzRecommendRequest(f *testing.F) {
	seeds := []string{
		`{"user_id":"u1"}`,
		`{"user_id":42}`,
		`{"user_id":-0,"num_recommendations":1}`,
		`{"user_id":"u1","session_id":"s1","context":{"page":"home","n":[1,2,{"a":null}]},"num_recommendations":10,"explain":true,"exclude":["p9"]}`,
		`{"user_id":"u\u00e9\\\"x","num_recommendations":100}`,
		`{"user_id":"","num_recommendations":0}`,
		`{"user_id":1.5}`,
		`{"user_id":12345678901234567890}`,
		`{"user_id":null}`,
		`{"user_id":["u"]}`,
		`{"num_recommendations":5}`,
		`{"user_id":"u","num_recommendations":101}`,
		`{"user_id":"u","num_recommendations":2.5}`,
		`{"user_id":"u","num_recommendations":1e400}`,
		`{"user_id":"u","num_recommendations":"3"}`,
		`{"user_id":"u","exclude":"p1"}`,
		`{"user_id":"u","explain":"yes"}`,
		`{"user_id":"a","USER_ID":"b","User_Id":7}`,
		`{"user_id":"u"} trailing garbage`,
		`{"user_id":"u"`,
		`[]`,
		`"u1"`,
		``,
		`{"user_id":"` + string(bytes.Repeat([]byte("x"), 257)) + `"}`,
		`{"user_id":"u","context":{"pad":"` + string(bytes.Repeat([]byte("y"), 5000)) + `"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const maxBody, maxResults = 4096, 100
	rec := &fuzzRecommender{}
	var hookRoute string
	var hookCode int
	srv := serve.New(fuzzIngester{}, rec, fuzzFeatures{}, serve.Options{
		MaxBodyBytes: maxBody,
		MaxResults:   maxResults,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:          func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		Hooks: serve.Hooks{OnRequest: func(route string, code int, _ time.Duration) {
			hookRoute, hookCode = route, code
		}},
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec.calls, hookRoute, hookCode = 0, "", 0
		req := httptest.NewRequest(http.MethodPost, "/v1/recommend", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		code, out := w.Code, w.Body.Bytes()

		if hookRoute != "recommend" || hookCode != code {
			t.Errorf("OnRequest saw %q %d, response is %d", hookRoute, hookCode, code)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		switch code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct {
				Error *string `json:"error"`
			}
			if err := json.Unmarshal(out, &e); err != nil || e.Error == nil || *e.Error == "" {
				t.Fatalf("%d body is not JSON with an error: %q (%v)", code, out, err)
			}
			if code == http.StatusRequestEntityTooLarge && len(body) <= maxBody {
				t.Fatalf("413 for a %d-byte body (limit %d)", len(body), maxBody)
			}
			if rec.calls != 0 {
				t.Fatalf("%d but the recommender was called", code)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d, body %q", code, out)
		}

		// 200: the request decoded; find what user_id was sent, with the
		// same decoder rules the handler uses (first value only, keys
		// matched case-insensitively, the last one wins).
		var sent struct {
			UserID json.RawMessage `json:"user_id"`
			N      *float64        `json:"num_recommendations"`
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&sent); err != nil {
			t.Fatalf("200 for a body that does not decode: %v", err)
		}
		var got struct {
			UserID          json.RawMessage  `json:"user_id"`
			Recommendations []recommend.Item `json:"recommendations"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("200 body is not JSON: %q (%v)", out, err)
		}
		if rec.calls != 1 {
			t.Fatalf("200 after %d recommender calls", rec.calls)
		}
		switch {
		case len(sent.UserID) == 0:
			t.Fatal("200 without a user_id")
		case sent.UserID[0] == '"':
			var s, g string
			if err := json.Unmarshal(sent.UserID, &s); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got.UserID, &g); err != nil {
				t.Fatalf("user_id %s sent as a string, answered as %s", sent.UserID, got.UserID)
			}
			if s != g {
				t.Fatalf("user_id %q sent, %q answered", s, g)
			}
			if s == "" || len(rec.last.UserID) > 256 {
				t.Fatalf("user_id %q accepted", rec.last.UserID)
			}
			// The raw bytes of an unescaped string are kept as sent; with
			// valid UTF-8 they are the decoded value.
			if utf8.Valid(sent.UserID) && rec.last.UserID != s {
				t.Fatalf("user_id %q sent, %q recommended for", s, rec.last.UserID)
			}
		default:
			if !bytes.Equal(got.UserID, sent.UserID) {
				t.Fatalf("user_id %s sent, %s answered", sent.UserID, got.UserID)
			}
			if rec.last.UserID != string(sent.UserID) {
				t.Fatalf("user_id %s sent, %q recommended for", sent.UserID, rec.last.UserID)
			}
		}
		wantN := 10
		if sent.N != nil {
			wantN = int(*sent.N)
		}
		if rec.last.N != wantN || rec.last.N < 1 || rec.last.N > maxResults || len(got.Recommendations) != wantN {
			t.Fatalf("num_recommendations %v: asked for %d, %d served", sent.N, rec.last.N, len(got.Recommendations))
		}
	})
}
