package feature

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/recohq/reco/internal/event"
)

func randomUser(rng *rand.Rand) *User {
	o := Options{}.WithDefaults()
	u := &User{ID: fmt.Sprintf("u%d", rng.IntN(1000))}
	for i := 0; i < 5+rng.IntN(40); i++ {
		e := &event.Event{Type: event.Type(1 + rng.IntN(6)), UserID: u.ID, ProductID: fmt.Sprintf("p%d", rng.IntN(15)),
			SessionID: fmt.Sprintf("s%d", rng.IntN(3)), Quantity: 1, Time: 1700000000000 + int64(i)*int64(rng.IntN(100000))}
		u.ApplyEvent(e, fmt.Sprintf("c%d", rng.IntN(4)), float64(rng.IntN(100)), &o, nil)
	}
	return u
}

func TestUserCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		u := randomUser(rng)
		b := AppendUser(nil, u)
		got, err := DecodeUser(b)
		if err != nil {
			t.Fatal(err)
		}
		for c, s := range u.Cats {
			g := got.Cats[c]
			if g == nil || g.Count != s.Count || g.Affinity.T != s.Affinity.T || math.Abs(g.Affinity.V-s.Affinity.V) > 1e-6*math.Max(1, s.Affinity.V) {
				t.Fatalf("category %s: %+v, want %+v", c, g, s)
			}
			g.Affinity.V = s.Affinity.V // compared with float32 precision above
		}
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, u)
		}
		for n := 0; n < len(b); n++ {
			if _, err := DecodeUser(b[:n]); err == nil {
				t.Fatalf("a %d-byte prefix of %d decoded", n, len(b))
			}
		}
	}
}

func TestProductCodecRoundTrip(t *testing.T) {
	p := NewProduct("p1")
	p.ApplyUpsert(&event.Product{ID: "p1", Category: "c", Name: "n", Price: 3.5, HasPrice: true, Inventory: 7, HasInventory: true,
		Margin: 0.2, HasMargin: true, Promoted: true, HasPromoted: true, Attributes: map[string]string{"a": "b"}})
	o := Options{}.WithDefaults()
	p.ApplyEvent(&event.Event{Type: event.Purchase, ProductID: "p1", Quantity: 2, Time: 1700000000000}, &o)
	p.ApplyEvent(&event.Event{Type: event.Review, ProductID: "p1", Rating: 4, Time: 1700000001000}, &o)
	b := AppendProduct(nil, p)
	got, err := DecodeProduct(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
	for n := 0; n < len(b); n++ {
		if _, err := DecodeProduct(b[:n]); err == nil {
			t.Fatalf("a %d-byte prefix decoded", n)
		}
	}
}
