package feature

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/recohq/reco/internal/event"
)

func fuzzUserSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	var out [][]byte
	for range 4 {
		u := randomUser(rng)
		out = append(out, AppendUser(nil, u), AppendUserCompact(nil, u))
	}
	nan := math.NaN()
	odd := &User{ID: "u\u00e9", Total: -1, Views: math.MaxInt64, PriceSum: nan, PriceN: 1, First: math.MinInt64, Last: math.MaxInt64,
		Session: "s", Cats: map[string]*CatStat{"": {Count: -5, Affinity: Decayed{V: math.Inf(-1), T: math.MinInt64}}, "c": {Affinity: Decayed{V: nan}}},
		Recent: []Recent{{Product: "p", Type: event.Review, Time: 0, Session: "s"}, {Product: "", Type: 255, Time: math.MaxInt64, Session: ""},
			{Product: "p", Type: event.View, Time: -1, Session: "other"}},
		Bought: map[string]int32{"p": -1, "q": math.MaxInt32}}
	out = append(out, AppendUser(nil, odd), AppendUserCompact(nil, odd), AppendUser(nil, &User{}), []byte{}, []byte{stateCodecVersion},
		[]byte{2, 0}, []byte{userFormat}, []byte{userFormatCompact, 0})
	return out
}

func fuzzProductSeeds() [][]byte {
	p := NewProduct("p1")
	p.ApplyUpsert(&event.Product{ID: "p1", Category: "c", Name: "n", Price: 3.5, HasPrice: true, Inventory: 7, HasInventory: true,
		Margin: 0.2, HasMargin: true, Promoted: true, HasPromoted: true, Attributes: map[string]string{"a": "b", "": ""}})
	o := Options{}.WithDefaults()
	p.ApplyEvent(&event.Event{Type: event.Purchase, ProductID: "p1", Quantity: 2, Time: 1700000000000}, &o)
	p.ApplyEvent(&event.Event{Type: event.Review, ProductID: "p1", Rating: 4, Time: 1700000001000}, &o)
	odd := &Product{ID: "x", Price: math.NaN(), Inventory: math.MinInt64, Margin: math.Inf(1), RatingSum: -3,
		Popularity: Decayed{V: -0.0, T: math.MaxInt64}, Updated: -1, Promoted: true, InCatalog: true}
	return [][]byte{AppendProduct(nil, p), AppendProduct(nil, NewProduct("")), AppendProduct(nil, odd), {}, {stateCodecVersion}, {0}}
}

// FuzzDecodeUser decodes arbitrary bytes as a user's state. It must never
// panic, and a value that decodes must re-encode to bytes that decode to
// the same value.
func FuzzDecodeUser(f *testing.F) {
	for _, s := range fuzzUserSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := DecodeUser(data)
		if err != nil {
			if u != nil {
				t.Fatalf("user returned with error %v", err)
			}
			return
		}
		b := AppendUser(nil, u)
		u2, err := DecodeUser(b)
		if err != nil {
			t.Fatalf("re-encoded user does not decode: %v\n%+v", err, u)
		}
		if !sameState(u, u2) {
			t.Fatalf("user changed through the codec:\n%+v\n%+v", u, u2)
		}
	})
}

// FuzzDecodeProduct is FuzzDecodeUser for a product's state.
func FuzzDecodeProduct(f *testing.F) {
	for _, s := range fuzzProductSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProduct(data)
		if err != nil {
			if p != nil {
				t.Fatalf("product returned with error %v", err)
			}
			return
		}
		b := AppendProduct(nil, p)
		p2, err := DecodeProduct(b)
		if err != nil {
			t.Fatalf("re-encoded product does not decode: %v\n%+v", err, p)
		}
		if !sameState(p, p2) {
			t.Fatalf("product changed through the codec:\n%+v\n%+v", p, p2)
		}
	})
}

// sameState is reflect.DeepEqual with every NaN equal to every NaN.
func sameState(a, b any) bool {
	return sameValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			v := b.MapIndex(k)
			if !v.IsValid() || !sameValue(a.MapIndex(k), v) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
