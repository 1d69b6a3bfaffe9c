package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestPrepare(t *testing.T) {
	var (
		mu           sync.Mutex
		products     = map[string]string{} // id -> category
		userEvents   = map[string]int{}
		productBatch []int
		eventBatch   []int
		bad          []string
		phaseOrder   []string
	)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines, err := readNDJSON(r)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/v1/products":
			if len(phaseOrder) == 0 || phaseOrder[len(phaseOrder)-1] != "products" {
				phaseOrder = append(phaseOrder, "products")
			}
			productBatch = append(productBatch, len(lines))
			for _, l := range lines {
				var p struct {
					ID        string   `json:"product_id"`
					Category  string   `json:"category"`
					Price     *float64 `json:"price"`
					Inventory *int     `json:"inventory"`
				}
				if err := json.Unmarshal(l, &p); err != nil || p.ID == "" || p.Category == "" || p.Price == nil || *p.Price < 0 || p.Inventory == nil || *p.Inventory < 0 {
					bad = append(bad, fmt.Sprintf("product %s: %v", l, err))
				}
				if _, dup := products[p.ID]; dup {
					bad = append(bad, "duplicate product "+p.ID)
				}
				products[p.ID] = p.Category
			}
			fmt.Fprintf(w, `{"upserted":%d}`, len(lines))
		case r.Method == http.MethodPost && r.URL.Path == "/v1/events":
			if len(phaseOrder) == 0 || phaseOrder[len(phaseOrder)-1] != "history" {
				phaseOrder = append(phaseOrder, "history")
			}
			eventBatch = append(eventBatch, len(lines))
			for _, l := range lines {
				if err := checkEvent(l); err != nil {
					bad = append(bad, fmt.Sprintf("event %s: %v", l, err))
				}
				var e struct {
					UserID    string `json:"user_id"`
					ProductID string `json:"product_id"`
				}
				_ = json.Unmarshal(l, &e)
				if _, ok := products[e.ProductID]; !ok {
					bad = append(bad, "event for unknown product "+e.ProductID)
				}
				userEvents[e.UserID]++
			}
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"accepted":%d}`, len(lines))
		default:
			bad = append(bad, r.Method+" "+r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	var progress bytes.Buffer
	const nProducts, nUsers, batch = 2_500, 300, 100
	err := Prepare(context.Background(), Options{
		BaseURL: srv.URL, Products: nProducts, Users: nUsers, BatchSize: batch, Progress: &progress, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d bad requests or items, first: %s", len(bad), bad[0])
	}
	if strings.Join(phaseOrder, ",") != "products,history" {
		t.Errorf("phases %v, want the whole catalog before history", phaseOrder)
	}
	if len(products) != nProducts || len(productBatch) != 3 {
		t.Errorf("%d products in %d batches, want %d in 3", len(products), len(productBatch), nProducts)
	}
	for _, n := range productBatch {
		if n > 1000 {
			t.Errorf("product batch of %d", n)
		}
	}
	cats := map[string]bool{}
	for _, c := range products {
		cats[c] = true
	}
	if len(cats) != 50 {
		t.Errorf("%d categories, want 50", len(cats))
	}
	if len(userEvents) != nUsers {
		t.Errorf("%d users with history, want %d", len(userEvents), nUsers)
	}
	for u, n := range userEvents {
		if n < 2 || n > maxUserEvents {
			t.Errorf("user %s has %d events", u, n)
		}
	}
	for _, n := range eventBatch {
		if n > batch {
			t.Errorf("event batch of %d > %d", n, batch)
		}
	}
	out := progress.String()
	if !strings.Contains(out, fmt.Sprintf("products %d/%d", nProducts, nProducts)) || !strings.Contains(out, "prepare: done") {
		t.Errorf("progress output:\n%s", out)
	}
}

func TestPrepareStopsOnRefusedBatch(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events" {
			http.Error(w, `{"error":"invalid","details":[{"index":0,"field":"user_id"}]}`, http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"upserted":1}`)
	}))
	err := Prepare(context.Background(), Options{BaseURL: srv.URL, Products: 10, Users: 10})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"prepare history", "batch 0", "status 400", "invalid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
