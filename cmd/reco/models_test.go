package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/rank/gbdt"
	"github.com/recohq/reco/internal/registry"
)

// postHistory sends a shop history in which users keep to their category.
func postHistory(t *testing.T, url string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 4))
	t0 := time.Now().Add(-48 * time.Hour)
	var lines []string
	for i := 0; i < n; i++ {
		u := rng.IntN(80)
		cat := u % 6
		p := cat*25 + rng.IntN(25)
		typ := []string{"view", "view", "click", "add_to_cart", "purchase"}[rng.IntN(5)]
		lines = append(lines, fmt.Sprintf(`{"user_id":"u%d","event_type":%q,"product_id":"p%d","category":"c%d","price":%d,"session_id":"s%d-%d","timestamp":%d}`,
			u, typ, p, cat, 10+p, u, i/300, t0.Add(time.Duration(i)*20*time.Second).UnixMilli()))
		if len(lines) == 2000 || i == n-1 {
			if code := do(t, "POST", url+"/v1/events", "application/x-ndjson", ndjson(lines...), nil); code != 202 {
				t.Fatalf("events: %d", code)
			}
			lines = lines[:0]
		}
	}
}

type modelsResponse struct {
	Serving  registry.Serving `json:"serving"`
	Versions []registry.Meta  `json:"versions"`
	Training struct {
		Running  bool   `json:"running"`
		Version  string `json:"version"`
		Promoted bool   `json:"promoted"`
		Error    string `json:"error"`
	} `json:"training"`
}

func TestModelLifecycle(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Train.Rounds, cfg.Train.MaxDepth = 40, 5 // small: the race detector slows training ~10x
	s := startServer(t, cfg)
	postHistory(t, s.URL, 8000)
	s.settle()

	var rr recResponse
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u1"}`, &rr)
	if rr.ModelVersion != rank.RulesVersion {
		t.Fatalf("before training served by %q", rr.ModelVersion)
	}

	// Train in the server, promoted when done.
	if code := do(t, "POST", s.URL+"/v1/models/train", "", `{"promote": true}`, nil); code != 202 {
		t.Fatalf("train: %d", code)
	}
	var mr modelsResponse
	waitFor(t, 4*time.Minute, func() bool {
		do(t, "GET", s.URL+"/v1/models", "", "", &mr)
		return !mr.Training.Running && (mr.Training.Version != "" || mr.Training.Error != "")
	})
	if mr.Training.Error != "" || !mr.Training.Promoted {
		t.Fatalf("training: %+v", mr.Training)
	}
	v1 := mr.Training.Version
	if mr.Serving.Current != v1 || len(mr.Versions) != 1 || mr.Versions[0].Metrics["auc"] == 0 {
		t.Fatalf("after training: %+v", mr)
	}
	var ex struct {
		ModelVersion    string `json:"model_version"`
		Recommendations []struct {
			Explanation []struct {
				Feature      string  `json:"feature"`
				Contribution float64 `json:"contribution"`
			} `json:"explanation"`
		} `json:"recommendations"`
	}
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u1","explain":true}`, &ex)
	if ex.ModelVersion != v1 || len(ex.Recommendations) == 0 || len(ex.Recommendations[0].Explanation) == 0 {
		t.Fatalf("recommend after promotion: %+v", ex)
	}

	// A corrupt model and a constant model are refused; v1 keeps serving.
	reg, err := registry.Open(filepath.Join(s.App.Config.DataDir, "models"))
	if err != nil {
		t.Fatal(err)
	}
	// Training built the similar-items table that serving now uses as a
	// candidate source.
	if b, err := reg.Extra(v1, "similar.bin"); err != nil || len(b) == 0 {
		t.Errorf("version %s has no similar-items table: %v", v1, err)
	}
	for i := 0; i < 20; i++ {
		do(t, "POST", s.URL+"/v1/recommend", "", fmt.Sprintf(`{"user_id":"u%d"}`, i), nil)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`reco_candidates_total\{source="similar"\} [1-9]`).Match(mb) {
		t.Errorf("the similar-items source proposed no candidates: %s", regexp.MustCompile(`reco_candidates_total.*`).FindAll(mb, -1))
	}
	bad := filepath.Join(reg.Dir(), "broken")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "model.json"), []byte(`{"learner": {"gradient_booster": `), 0o644)
	os.WriteFile(filepath.Join(bad, "meta.json"), []byte(`{"version":"broken"}`), 0o644)
	constant := trainConstant(t)
	if _, err := reg.Register(constant, registry.Meta{Version: "constant", SchemaHash: rank.SchemaHash()}, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"broken", "constant"} {
		var eb struct{ Error string }
		if code := do(t, "POST", s.URL+"/v1/models/"+v+"/promote", "", "", &eb); code != 400 {
			t.Errorf("promote %s: %d %s, want 400", v, code, eb.Error)
		}
	}
	if code := do(t, "POST", s.URL+"/v1/models/nope/promote", "", "", nil); code != 404 {
		t.Errorf("promote unknown: %d", code)
	}
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u2"}`, &rr)
	if rr.ModelVersion != v1 {
		t.Errorf("after refused promotions served by %q, want %s", rr.ModelVersion, v1)
	}

	// A second version, promoted as a canary to half the users, then fully;
	// rollback returns to v1.
	if _, err := s.App.Models.Train(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	do(t, "GET", s.URL+"/v1/models", "", "", &mr)
	v2 := mr.Training.Version
	if v2 == v1 || mr.Serving.Current != v1 {
		t.Fatalf("second training: %+v", mr)
	}
	if code := do(t, "POST", s.URL+"/v1/models/"+v2+"/promote", "", `{"percent": 50}`, nil); code != 200 {
		t.Fatalf("canary: %d", code)
	}
	served := map[string]int{}
	for i := 0; i < 200; i++ {
		do(t, "POST", s.URL+"/v1/recommend", "", fmt.Sprintf(`{"user_id":"canary%d"}`, i), &rr)
		served[rr.ModelVersion]++
	}
	if served[v1] < 60 || served[v2] < 60 || served[v1]+served[v2] != 200 {
		t.Errorf("canary at 50%%: %v", served)
	}
	if code := do(t, "POST", s.URL+"/v1/models/"+v2+"/promote", "", ``, nil); code != 200 {
		t.Fatalf("promote: %d", code)
	}
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u3"}`, &rr)
	if rr.ModelVersion != v2 {
		t.Errorf("after promotion served by %q", rr.ModelVersion)
	}
	if code := do(t, "POST", s.URL+"/v1/models/rollback", "", ``, &mr.Serving); code != 200 || mr.Serving.Current != v1 {
		t.Errorf("rollback: %d %+v", code, mr.Serving)
	}
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u3"}`, &rr)
	if rr.ModelVersion != v1 {
		t.Errorf("after rollback served by %q", rr.ModelVersion)
	}
}

// trainConstant trains a model that cannot tell rows apart.
func trainConstant(t *testing.T) *gbdt.Model {
	t.Helper()
	d := &gbdt.Dataset{Features: rank.NumFeatures, FeatureNames: rank.FeatureNames}
	for i := 0; i < 100; i++ {
		d.X = append(d.X, make([]float32, rank.NumFeatures)...)
		d.Labels = append(d.Labels, float32(i%2))
	}
	p := gbdt.DefaultParams()
	p.Rounds = 2
	m, _, err := gbdt.Train(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAPIKeys(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Auth.IngestKeys = []string{"ingest-secret"}
	cfg.Auth.AdminKeys = []string{"admin-secret"}
	s := startServer(t, cfg)
	ev := `{"user_id":"u","event_type":"view","product_id":"p"}`
	send := func(method, path, key, body string) int {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		method, path, key, body string
		want                    int
	}{
		{"POST", "/v1/events", "", ev, 401},
		{"POST", "/v1/events", "wrong", ev, 403},
		{"POST", "/v1/events", "ingest-secret", ev, 202},
		{"POST", "/v1/events", "admin-secret", ev, 202},
		{"PUT", "/v1/products", "", `{"product_id":"p"}`, 401},
		{"PUT", "/v1/products", "ingest-secret", `{"product_id":"p"}`, 200},
		{"POST", "/v1/models/rollback", "", ``, 401},
		{"POST", "/v1/models/rollback", "ingest-secret", ``, 403},
		{"POST", "/v1/models/rollback", "admin-secret", ``, 409}, // authorised; nothing to roll back to
		{"POST", "/v1/recommend", "", `{"user_id":"u"}`, 200},    // recommend stays open
		{"GET", "/v1/models", "", ``, 200},
	}
	for _, c := range cases {
		if got := send(c.method, c.path, c.key, c.body); got != c.want {
			t.Errorf("%s %s with key %q: %d, want %d", c.method, c.path, c.key, got, c.want)
		}
	}
}
