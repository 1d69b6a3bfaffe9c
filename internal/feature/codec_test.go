package feature

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/wire"
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

func TestUserCodecCompact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 200; i++ {
		u := randomUser(rng)
		b := AppendUserCompact(nil, u)
		if exact := AppendUser(nil, u); len(b) >= len(exact) {
			t.Fatalf("compact %d bytes, exact %d", len(b), len(exact))
		}
		got, err := DecodeUser(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "" {
			t.Fatalf("compact encoding holds the id %q", got.ID)
		}
		got.ID = u.ID
		for c, s := range u.Cats {
			g := got.Cats[c]
			if g == nil || g.Affinity.V != float64(float32(s.Affinity.V)) {
				t.Fatalf("category %s: %+v, want %+v as float32", c, g, s)
			}
			g.Affinity.V = s.Affinity.V
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

// TestUserCodecReadsV2 decodes a user the previous format encoded (what
// checkpoints written before format 3 hold).
func TestUserCodecReadsV2(t *testing.T) {
	b, err := hex.DecodeString("02047538383110030406010002000d0000000000907d4080a0abfef962e4dc92010273320402633001000000000000f03fb3b6890102633106db0de362fdfe2f40a3a360026332049602368e94fd2b4000026333052f2cdeb51dfe1f40b3ce3d0b0270390270330270340370313302703802703102703203703134027035027037037031300d0003e4dc92010001039aff8d01010273310201b4b68901010273300303d8a38001010273300402ac848a01010273310501d4e740010273310602c4f471010273300703a4a360010273300001b4ce3d010273310503d49331010273300802ec9b7901027330090300000a02e8e4630000")
	if err != nil {
		t.Fatal(err)
	}
	want := randomUser(rand.New(rand.NewPCG(3, 4)))
	got, err := DecodeUser(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v2:\n got %+v\nwant %+v", got, want)
	}
}

func TestUserCodecEdges(t *testing.T) {
	u := &User{ID: "u", Total: 3, PriceSum: 12.34, PriceN: 2, First: 1700000000123, Last: 1700000090000, Session: "s-9",
		Cats: map[string]*CatStat{"cat-1": {Count: 1, Affinity: Decayed{V: 2, T: 1700000000123}}, "cat-10": {Count: 2, Affinity: Decayed{V: 0.5, T: 1700000090000}}},
		Recent: []Recent{
			{Product: "sku-0010", Type: event.View, Time: 1700000000123, Session: "s-7"},
			{Product: "sku-0010", Type: event.Click, Time: 1700000005000, Session: "s-7"},
			{Product: "2268318", Type: event.Type(200), Time: 1700000004000, Session: "s-8"}, // out of order, odd type
			{Product: "sku-0010", Type: event.AddToCart, Time: 1700000090000, Session: "s-9"},
			{Product: "sku-0011", Type: event.Purchase, Time: 1700000090000, Session: "s-9"},
		},
		Bought: map[string]int32{"sku-0011": 1, "sku-0099": 2}}
	odd := &User{ID: "u\u00e9", Total: -1, Views: math.MaxInt64, PriceSum: math.NaN(), PriceN: 1, First: math.MinInt64, Last: math.MaxInt64,
		Session: "s", Cats: map[string]*CatStat{"": {Count: -5, Affinity: Decayed{V: math.Inf(-1), T: math.MinInt64}}, "c": {Affinity: Decayed{V: 0.5}}},
		Recent: []Recent{{Product: "p", Type: event.Review, Time: 0, Session: "s"}, {Product: "", Type: 255, Time: math.MaxInt64, Session: ""},
			{Product: "p", Type: event.View, Time: -1, Session: "other"}, {Product: "p", Type: 7, Time: math.MinInt64, Session: "s"}},
		Bought: map[string]int32{"p": -1, "q": math.MaxInt32}}
	for _, u := range []*User{u, odd} {
		for _, enc := range []func([]byte, *User) []byte{AppendUser, AppendUserCompact} {
			got, err := DecodeUser(enc(nil, u))
			if err != nil {
				t.Fatal(err)
			}
			got.ID = u.ID
			if !sameState(got, u) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, u)
			}
		}
	}
}

func TestNumberAndMillis(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 400, 12.34, -0.01, 19.99 + 5.49 + 0.1, 1e300, math.Inf(1), math.Inf(-1), 1 << 53, 0.1 + 0.2, float64(float32(0.3))} {
		d := wire.NewReader(appendNumber(nil, f))
		got := readNumber(d)
		if d.Err() != nil || math.Float64bits(got) != math.Float64bits(f) || d.Len() != 0 {
			t.Errorf("number %v: got %v (%v)", f, got, d.Err())
		}
	}
	if d := wire.NewReader(appendNumber(nil, math.NaN())); !math.IsNaN(readNumber(d)) {
		t.Error("NaN")
	}
	if n := len(appendNumber(nil, 400)); n != 2 {
		t.Errorf("400 in %d bytes", n)
	}
	for _, ms := range []int64{0, 1, -1, 1000, -60000, 1700000000000, 1700000000123, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, -(1 << 62), 1 << 62} {
		d := wire.NewReader(appendMillis(nil, ms))
		if got := readMillis(d); got != ms || d.Err() != nil || d.Len() != 0 {
			t.Errorf("millis %d: got %d (%v)", ms, got, d.Err())
		}
	}
	if n := len(appendMillis(nil, -3600000)); n != 2 {
		t.Errorf("an hour in %d bytes", n)
	}
}
