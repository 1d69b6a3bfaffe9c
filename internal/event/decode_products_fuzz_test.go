package event

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/recohq/reco"
)

// FuzzDecodeProducts feeds arbitrary bodies to DecodeProducts. It must never
// panic; it returns either products or an error of kind Invalid or
// TooLarge, never both; every product it returns obeys the documented field
// rules; and every product survives the log codec (AppendProduct, Decode)
// unchanged, since that is how an upsert reaches the feature store.
func FuzzDecodeProducts(f *testing.F) {
	seeds := []string{
		`{"product_id":"p1"}`,
		`{"product_id":17}`,
		`{"product_id":"p1","category":"shoes","name":"Runner","price":59.5,"inventory":12,"margin":0.3,` +
			`"promoted":true,"available":true,"attributes":{"color":"red","size":"42"},"timestamp":"2026-02-01T00:00:00Z"}`,
		`{"product_id":"p1","price":0,"inventory":0,"margin":-0.1,"promoted":false,"available":false,"timestamp":1769904000000}`,
		`[{"product_id":"a"},{"product_id":"b","available":false}]`,
		"{\"product_id\":\"a\"}\n\n{\"product_id\":\"b\",\"price\":1}\n",
		`{"product_id":"p1","attributes":{}}`,
		`{"product_id":"p1","attributes":{"n":1}}`,
		`{"product_id":"p1","inventory":1.5,"price":-3,"margin":"x"}`,
		`{"product_id":"","timestamp":"soon"}`,
		`{"product_id":2.5}`,
		`{"product_id":"a\u00e9\"b","name":"\ud83d\ude00"}`,
		`{"product_id":"p1","inventory":1e15,"price":1e308}`,
		`[{"product_id":"a"},`,
		`[1,"x",null]`,
		`{"product_id":null,"attributes":null,"price":null}`,
		`{"PRODUCT_ID":"p1","Price":2}`,
		`{"product_id":"a"}{"product_id":"b"}{"product_id":"c"}{"product_id":"d"}`,
		"",
		"   ",
		"[]",
		"nope",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const maxItems = 3
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, err := DecodeProducts(bytes.NewReader(body), testNow, Limits{MaxItems: maxItems})
		if err != nil {
			if ps != nil {
				t.Fatalf("products %+v returned with error %v", ps, err)
			}
			if k := reco.KindOf(err); k != reco.Invalid && k != reco.TooLarge {
				t.Fatalf("error %v has kind %v, want Invalid or TooLarge", err, k)
			}
			return
		}
		if len(ps) == 0 || len(ps) > maxItems {
			t.Fatalf("no error and %d products", len(ps))
		}
		for i := range ps {
			p := &ps[i]
			if p.ID == "" || len(p.ID) > 256 {
				t.Errorf("product %d has id %q", i, p.ID)
			}
			if p.HasPrice && !(p.Price >= 0 && !math.IsInf(p.Price, 0)) || !p.HasPrice && p.Price != 0 {
				t.Errorf("product %d: price %v (given %v)", i, p.Price, p.HasPrice)
			}
			if p.HasInventory && p.Inventory < 0 || !p.HasInventory && p.Inventory != 0 {
				t.Errorf("product %d: inventory %d (given %v)", i, p.Inventory, p.HasInventory)
			}
			if p.HasMargin && (math.IsNaN(p.Margin) || math.IsInf(p.Margin, 0)) || !p.HasMargin && p.Margin != 0 {
				t.Errorf("product %d: margin %v (given %v)", i, p.Margin, p.HasMargin)
			}
			if !p.HasPromoted && p.Promoted || !p.HasAvailable && p.Available {
				t.Errorf("product %d: a flag is set but not given: %+v", i, p)
			}

			// Through the log and back.
			var r Record
			if err := Decode(AppendProduct(nil, p), &r); err != nil {
				t.Fatalf("product %d does not survive the log codec: %v", i, err)
			}
			want := *p
			if len(want.Attributes) == 0 {
				// The codec writes no attributes and {} alike: both decode
				// to nil, so "attributes": {} reaches ApplyUpsert as "keep".
				want.Attributes = nil
			}
			if r.Kind != KindProduct || !reflect.DeepEqual(r.Product, want) {
				t.Fatalf("product %d changed through the log codec:\n%+v\nwant\n%+v", i, r.Product, want)
			}
		}
	})
}
