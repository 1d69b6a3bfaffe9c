package event

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func codecEvents() []Event {
	return []Event{
		{},
		{Type: View, UserID: "u1", ProductID: "p1", Price: -1, Quantity: 1, Time: 1772366400000},
		{Type: Purchase, UserID: "42", ProductID: "prod-\u00e9\u4e16", SessionID: "s-1", Category: "shoes", Price: 19.99,
			Quantity: 3, Time: 1772366400123, RequestID: "req-1", Ingested: 1772366400999, SourceKey: "import:7"},
		{Type: Review, UserID: strings.Repeat("u", 300), ProductID: "p", Rating: 5, Quantity: 1, Price: 0, Time: -1},
		{Type: RemoveFromCart, UserID: "u", ProductID: "p", Quantity: math.MaxInt32, Price: math.MaxFloat64, Time: math.MaxInt64, Ingested: math.MinInt64},
	}
}

func codecProducts() []Product {
	attrs := map[string]string{}
	for i := range 40 {
		attrs[fmt.Sprintf("k%02d", i)] = "v"
	}
	return []Product{
		{ID: "p1"},
		{ID: "p1", Category: "shoes", Name: "Runner", Price: 59.5, Inventory: 12, Margin: 0.3, Promoted: true, Available: true,
			Attributes: map[string]string{"color": "red", "size": "42", "": "empty key", "note": ""}, Time: 1772366400000,
			HasPrice: true, HasInventory: true, HasMargin: true, HasPromoted: true, HasAvailable: true},
		{ID: "p2", HasPrice: true},
		{ID: "p3", HasInventory: true, Inventory: -1},
		{ID: "p4", HasMargin: true, Margin: -0.25},
		{ID: "p5", HasPromoted: true},
		{ID: "p6", HasAvailable: true},
		{ID: "p7", Promoted: true},
		{ID: "p8", Available: true, Time: -5},
		{ID: "p", Category: "c", Attributes: attrs, Time: 1772366400000},
	}
}

func codecImpressions() []Impression {
	return []Impression{
		{},
		{RequestID: "r1", UserID: "u1", SessionID: "s1", ModelVersion: "rules-v1", Experiment: "exp", Variant: "b", Fallback: "popular",
			Time: 1772366400000, FeatureNames: []string{"a", "b", "c"},
			Items: []ImpressionItem{
				{ProductID: "p1", Source: "co_visitation", Position: 0, Score: 0.75, Features: []float32{1, float32(math.Inf(-1)), -2.5}},
				{ProductID: "p2", Source: "popular", Position: 1, Score: -1e-3},
				{ProductID: "p3", Position: -1, Score: math.MaxFloat32, Features: []float32{0}},
			}},
		{RequestID: "r2", Items: []ImpressionItem{{ProductID: "x"}}},
		{RequestID: "r3", FeatureNames: []string{"only"}},
	}
}

// encoded is one record and its encoding, for the table-driven tests below.
type encoded struct {
	name string
	want Record
	data []byte
}

func allEncoded() []encoded {
	var out []encoded
	for i, e := range codecEvents() {
		out = append(out, encoded{fmt.Sprintf("event%d", i), Record{Kind: KindEvent, Event: e}, AppendEvent(nil, &e)})
	}
	for i, p := range codecProducts() {
		out = append(out, encoded{fmt.Sprintf("product%d", i), Record{Kind: KindProduct, Product: p}, AppendProduct(nil, &p)})
	}
	for i, im := range codecImpressions() {
		out = append(out, encoded{fmt.Sprintf("impression%d", i), Record{Kind: KindImpression, Impression: im}, AppendImpression(nil, &im)})
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tt := range allEncoded() {
		t.Run(tt.name, func(t *testing.T) {
			var got Record
			if err := Decode(tt.data, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestCodecAppendKeepsPrefix(t *testing.T) {
	prefix := []byte("HEAD")
	e := codecEvents()[2]
	b := AppendEvent(append([]byte(nil), prefix...), &e)
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("AppendEvent lost the prefix: %q", b[:4])
	}
	var r Record
	if err := Decode(b[len(prefix):], &r); err != nil || !reflect.DeepEqual(r.Event, e) {
		t.Errorf("Decode after prefix = %+v, %v", r.Event, err)
	}
	if !bytes.Equal(b[len(prefix):], AppendEvent(nil, &e)) {
		t.Error("encoding depends on the buffer it is appended to")
	}
}

// TestCodecDeterministic checks that attribute order does not change the
// encoding (maps iterate randomly).
func TestCodecDeterministic(t *testing.T) {
	p := codecProducts()[9]
	first := AppendProduct(nil, &p)
	for range 20 {
		if b := AppendProduct(nil, &p); !bytes.Equal(b, first) {
			t.Fatal("AppendProduct is not deterministic")
		}
	}
}

// TestCodecReuseRecord decodes records into one Record in turn: nothing from
// an earlier record may leak into a later one.
func TestCodecReuseRecord(t *testing.T) {
	evs, ps, ims := codecEvents(), codecProducts(), codecImpressions()
	seq := []Record{
		{Kind: KindImpression, Impression: ims[1]},
		{Kind: KindImpression, Impression: ims[2]}, // fewer items, no feature names
		{Kind: KindImpression, Impression: ims[0]}, // none at all
		{Kind: KindProduct, Product: ps[1]},
		{Kind: KindProduct, Product: ps[0]}, // no attributes, no flags
		{Kind: KindEvent, Event: evs[2]},
		{Kind: KindEvent, Event: evs[1]},
	}
	var r Record
	for i, want := range seq {
		var data []byte
		switch want.Kind {
		case KindEvent:
			data = AppendEvent(nil, &want.Event)
		case KindProduct:
			data = AppendProduct(nil, &want.Product)
		case KindImpression:
			data = AppendImpression(nil, &want.Impression)
		}
		if err := Decode(data, &r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if r.Kind != want.Kind {
			t.Fatalf("step %d: kind %v, want %v", i, r.Kind, want.Kind)
		}
		var got, exp any
		switch want.Kind {
		case KindEvent:
			got, exp = r.Event, want.Event
		case KindProduct:
			got, exp = r.Product, want.Product
		case KindImpression:
			got, exp = normImpression(r.Impression), normImpression(want.Impression)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("step %d: decoded\n%+v\nwant\n%+v", i, got, exp)
		}
	}
}

// normImpression treats empty and nil slices alike: a reused Record may keep
// an emptied slice.
func normImpression(im Impression) Impression {
	if len(im.Items) == 0 {
		im.Items = nil
	}
	if len(im.FeatureNames) == 0 {
		im.FeatureNames = nil
	}
	return im
}

func TestCodecDecodeCopiesStrings(t *testing.T) {
	e := codecEvents()[2]
	data := AppendEvent(nil, &e)
	var r Record
	if err := Decode(data, &r); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if !reflect.DeepEqual(r.Event, e) {
		t.Errorf("decoded event changed with its input: %+v", r.Event)
	}
}

// TestCodecTruncated decodes every proper prefix of every record: each must
// be an error, and none may panic.
func TestCodecTruncated(t *testing.T) {
	for _, tt := range allEncoded() {
		t.Run(tt.name, func(t *testing.T) {
			var accepted []int
			for n := 0; n < len(tt.data); n++ {
				var r Record
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("Decode of %d of %d bytes panicked: %v", n, len(tt.data), p)
						}
					}()
					if err := Decode(tt.data[:n:n], &r); err == nil {
						accepted = append(accepted, n)
					}
				}()
			}
			if len(accepted) > 0 {
				t.Errorf("Decode of a %d-byte record truncated to these lengths returned no error: %v", len(tt.data), accepted)
			}
		})
	}
}

func TestCodecCorrupt(t *testing.T) {
	ev := codecEvents()[1]
	good := AppendEvent(nil, &ev)
	withByte := func(i int, c byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = c
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown version", withByte(0, 2)},
		{"version zero", withByte(0, 0)},
		{"unknown kind", withByte(1, 9)},
		{"kind zero", withByte(1, 0)},
		{"string length past the end", []byte{codecVersion, byte(KindEvent), byte(View), 0x7f, 'a'}},
		{"varint overflow", append([]byte{codecVersion, byte(KindEvent), byte(View)}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"impression feature-name count past the end", append(AppendImpression(nil, &Impression{})[:10], 0xff, 0xff, 0xff, 0x0f)},
		// Seven empty strings, time 0, no feature names, then 2^28 items.
		{"impression claims many items", []byte{codecVersion, byte(KindImpression), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}},
		// Seven empty strings, time 0, no feature names, one item (empty
		// ids, position 0, score 0) claiming 2^62 features.
		{"impression item claims many features", binary.AppendUvarint([]byte{codecVersion, byte(KindImpression), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
			0, 0, 0, 0, 0, 0, 0}, 1<<62)},
		// Header, empty id/category/name, price, inventory, margin, time, then 100 attributes.
		{"product claims many attributes", append(append([]byte{codecVersion, byte(KindProduct), 0, 0, 0, 0}, make([]byte, 8+1+8+1)...), 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("Decode(%x) panicked: %v", tt.data, p)
				}
			}()
			if err := Decode(tt.data, &r); err == nil {
				t.Errorf("Decode(%x) = nil error, want one (decoded kind %v)", tt.data, r.Kind)
			}
		})
	}
}
