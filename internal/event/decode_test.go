package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco"
)

// testNow is the arrival time passed to the decoders. It is deliberately not
// the wall clock, so that a decoder using time.Now would be caught.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const goodEvent = `{"user_id":"u1","event_type":"view","product_id":"p1"}`

// baseEvent is what goodEvent decodes to: defaults for everything not given.
func baseEvent() Event {
	return Event{Type: View, UserID: "u1", ProductID: "p1", Price: -1, Quantity: 1, Time: testNow.UnixMilli()}
}

func decodeEvents(body string) ([]Event, error) {
	return DecodeEvents(strings.NewReader(body), testNow, Limits{})
}

func TestDecodeEventsForms(t *testing.T) {
	e2 := baseEvent()
	e2.UserID, e2.Type, e2.ProductID = "u2", Click, "p2"
	const second = `{"user_id":"u2","event_type":"click","product_id":"p2"}`
	tests := []struct {
		name string
		body string
		want []Event
	}{
		{"one object", goodEvent, []Event{baseEvent()}},
		{"one object with surrounding space", "\n\t " + goodEvent + " \n", []Event{baseEvent()}},
		{"array of one", "[" + goodEvent + "]", []Event{baseEvent()}},
		{"array of two", "[" + goodEvent + ",\n" + second + "]", []Event{baseEvent(), e2}},
		{"array with leading space", "  \n[ " + goodEvent + " , " + second + " ]\n", []Event{baseEvent(), e2}},
		{"ndjson", goodEvent + "\n" + second + "\n", []Event{baseEvent(), e2}},
		{"ndjson without final newline", goodEvent + "\n" + second, []Event{baseEvent(), e2}},
		{"ndjson with blank lines", "\n\n" + goodEvent + "\n\n\n" + second + "\n\n", []Event{baseEvent(), e2}},
		{"ndjson with crlf", goodEvent + "\r\n\r\n" + second + "\r\n", []Event{baseEvent(), e2}},
		{"ndjson order kept", second + "\n" + goodEvent, []Event{e2, baseEvent()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvents(tt.body)
			if err != nil {
				t.Fatalf("DecodeEvents: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeEvents =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeEventsFields(t *testing.T) {
	ts := time.Date(2026, 2, 28, 9, 30, 15, 250e6, time.UTC)
	ev := func(fields string) string {
		return `{"user_id":"u1","event_type":"view","product_id":"p1"` + fields + `}`
	}
	with := func(f func(e *Event)) Event {
		e := baseEvent()
		f(&e)
		return e
	}
	tests := []struct {
		name string
		body string
		want Event
	}{
		{"defaults: quantity 1, price unknown, time now", goodEvent, baseEvent()},
		{"integer ids", `{"user_id":42,"event_type":"view","product_id":7}`,
			with(func(e *Event) { e.UserID, e.ProductID = "42", "7" })},
		{"negative and zero integer ids", `{"user_id":-3,"event_type":"view","product_id":0}`,
			with(func(e *Event) { e.UserID, e.ProductID = "-3", "0" })},
		{"escaped string id", `{"user_id":"a\"b\u00e9","event_type":"view","product_id":"p1"}`,
			with(func(e *Event) { e.UserID = "a\"bé" })},
		{"every field", `{"user_id":"u1","event_type":"purchase","product_id":"p1","session_id":"s9","category":"shoes",` +
			`"price":19.99,"quantity":3,"timestamp":"2026-02-28T09:30:15.25Z","request_id":"r-1"}`,
			with(func(e *Event) {
				e.Type, e.SessionID, e.Category, e.Price, e.Quantity, e.Time, e.RequestID = Purchase, "s9", "shoes", 19.99, 3, ts.UnixMilli(), "r-1"
			})},
		{"price zero is given, not unknown", `{"user_id":"u1","event_type":"view","product_id":"p1","price":0}`,
			with(func(e *Event) { e.Price = 0 })},
		{"quantity as 2.0", `{"user_id":"u1","event_type":"add_to_cart","product_id":"p1","quantity":2.0}`,
			with(func(e *Event) { e.Type, e.Quantity = AddToCart, 2 })},
		{"review with rating", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":4}`,
			with(func(e *Event) { e.Type, e.Rating = Review, 4 })},
		{"review rating 1", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":1}`,
			with(func(e *Event) { e.Type, e.Rating = Review, 1 })},
		{"review rating 5", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":5}`,
			with(func(e *Event) { e.Type, e.Rating = Review, 5 })},
		{"remove_from_cart", `{"user_id":"u1","event_type":"remove_from_cart","product_id":"p1"}`,
			with(func(e *Event) { e.Type = RemoveFromCart })},
		{"epoch ms timestamp", `{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":` + strconv.FormatInt(ts.UnixMilli(), 10) + `}`,
			with(func(e *Event) { e.Time = ts.UnixMilli() })},
		{"timestamp exactly 24h ahead", `{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":` +
			strconv.FormatInt(testNow.Add(24*time.Hour).UnixMilli(), 10) + `}`,
			with(func(e *Event) { e.Time = testNow.Add(24 * time.Hour).UnixMilli() })},
		{"unknown keys ignored", `{"user_id":"u1","event_type":"view","product_id":"p1","extra":{"x":[1,2]}}`, baseEvent()},
		{"null optional fields", `{"user_id":"u1","event_type":"view","product_id":"p1","price":null,"quantity":null,"session_id":null,"event_id":null}`, baseEvent()},
		{"event_id", ev(`,"event_id":"e-7f3a"`), with(func(e *Event) { e.SourceKey = "e-7f3a" })},
		{"event_id of 128 bytes", ev(`,"event_id":"` + strings.Repeat("k", 128) + `"`),
			with(func(e *Event) { e.SourceKey = strings.Repeat("k", 128) })},
		{"event_id with spaces and unicode", ev(`,"event_id":"order 42 \u00e9té:1"`),
			with(func(e *Event) { e.SourceKey = "order 42 été:1" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvents(tt.body)
			if err != nil {
				t.Fatalf("DecodeEvents: %v", err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("DecodeEvents =\n%+v\nwant\n[%+v]", got, tt.want)
			}
		})
	}
}

func TestDecodeEventsTimestampForms(t *testing.T) {
	want := time.Date(2026, 1, 15, 8, 4, 5, 678e6, time.UTC).UnixMilli()
	for _, ts := range []string{
		`"2026-01-15T08:04:05.678Z"`,
		`"2026-01-15T09:04:05.678+01:00"`,
		`"2026-01-15T08:04:05.678000000Z"`,
		strconv.FormatInt(want, 10),
	} {
		t.Run(ts, func(t *testing.T) {
			got, err := decodeEvents(`{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":` + ts + `}`)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Time != want {
				t.Errorf("Time = %d, want %d", got[0].Time, want)
			}
		})
	}
}

// TestDecodeEventsFutureUsesNow checks that "the future" is relative to the
// now passed in, not the wall clock.
func TestDecodeEventsFutureUsesNow(t *testing.T) {
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	body := `{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":"2020-01-03T00:00:00Z"}`
	_, err := DecodeEvents(strings.NewReader(body), past, Limits{})
	wantFieldErrors(t, err, FieldError{Index: 0, Field: "timestamp"})
	evs, err := DecodeEvents(strings.NewReader(body), past.Add(48*time.Hour), Limits{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("with now at the timestamp: %v, %v", evs, err)
	}
}

// validationFields returns the field errors of err after checking that it is
// a reco.Invalid *ValidationError.
func validationFields(t *testing.T, err error) []FieldError {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want a validation error")
	}
	if k := reco.KindOf(err); k != reco.Invalid {
		t.Errorf("KindOf(%v) = %v, want invalid", err, k)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err %v (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Fields) == 0 {
		t.Fatal("ValidationError has no fields")
	}
	return ve.Fields
}

// wantFieldErrors checks that err reports at least the given index/field
// pairs and no index outside them.
func wantFieldErrors(t *testing.T, err error, want ...FieldError) {
	t.Helper()
	fields := validationFields(t, err)
	for _, w := range want {
		found := false
		for _, f := range fields {
			if f.Index == w.Index && (f.Field == w.Field || strings.HasPrefix(f.Field, w.Field+".")) && f.Message != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for item %d field %q in %+v", w.Index, w.Field, fields)
		}
	}
	for _, f := range fields {
		ok := false
		for _, w := range want {
			ok = ok || f.Index == w.Index
		}
		if !ok {
			t.Errorf("unexpected error for item %d: %+v", f.Index, f)
		}
	}
}

func TestDecodeEventsInvalid(t *testing.T) {
	ev := func(fields string) string {
		return `{"user_id":"u1","event_type":"view","product_id":"p1"` + fields + `}`
	}
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"missing user_id", `{"event_type":"view","product_id":"p1"}`, "user_id"},
		{"empty user_id", `{"user_id":"","event_type":"view","product_id":"p1"}`, "user_id"},
		{"null user_id", `{"user_id":null,"event_type":"view","product_id":"p1"}`, "user_id"},
		{"float user_id", `{"user_id":1.5,"event_type":"view","product_id":"p1"}`, "user_id"},
		{"exponent user_id", `{"user_id":1e3,"event_type":"view","product_id":"p1"}`, "user_id"},
		{"bool user_id", `{"user_id":true,"event_type":"view","product_id":"p1"}`, "user_id"},
		{"object user_id", `{"user_id":{"id":"u1"},"event_type":"view","product_id":"p1"}`, "user_id"},
		{"array user_id", `{"user_id":["u1"],"event_type":"view","product_id":"p1"}`, "user_id"},
		{"user_id too long", `{"user_id":"` + strings.Repeat("x", 257) + `","event_type":"view","product_id":"p1"}`, "user_id"},
		{"integer user_id out of int64", `{"user_id":99999999999999999999,"event_type":"view","product_id":"p1"}`, "user_id"},
		{"missing product_id", `{"user_id":"u1","event_type":"view"}`, "product_id"},
		{"empty product_id", `{"user_id":"u1","event_type":"view","product_id":""}`, "product_id"},
		{"bool product_id", `{"user_id":"u1","event_type":"view","product_id":false}`, "product_id"},
		{"missing event_type", `{"user_id":"u1","product_id":"p1"}`, "event_type"},
		{"unknown event_type", `{"user_id":"u1","event_type":"like","product_id":"p1"}`, "event_type"},
		{"event_type wrong case", `{"user_id":"u1","event_type":"View","product_id":"p1"}`, "event_type"},
		{"event_type number", `{"user_id":"u1","event_type":1,"product_id":"p1"}`, "event_type"},
		{"negative price", ev(`,"price":-0.01`), "price"},
		{"price as string", ev(`,"price":"10"`), "price"},
		{"quantity 0", ev(`,"quantity":0`), "quantity"},
		{"quantity negative", ev(`,"quantity":-2`), "quantity"},
		{"quantity 1.5", ev(`,"quantity":1.5`), "quantity"},
		{"quantity huge", ev(`,"quantity":1e7`), "quantity"},
		{"quantity as string", ev(`,"quantity":"2"`), "quantity"},
		{"rating 0 on review", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":0}`, "rating"},
		{"rating 6 on review", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":6}`, "rating"},
		{"rating 4.5 on review", `{"user_id":"u1","event_type":"review","product_id":"p1","rating":4.5}`, "rating"},
		{"rating on view", ev(`,"rating":5`), "rating"},
		{"rating on purchase", `{"user_id":"u1","event_type":"purchase","product_id":"p1","rating":3}`, "rating"},
		{"review without rating", `{"user_id":"u1","event_type":"review","product_id":"p1"}`, "rating"},
		{"timestamp not a time", ev(`,"timestamp":"yesterday"`), "timestamp"},
		{"timestamp without zone", ev(`,"timestamp":"2026-03-01T10:00:00"`), "timestamp"},
		{"timestamp negative", ev(`,"timestamp":-5`), "timestamp"},
		{"timestamp fractional ms", ev(`,"timestamp":1772359200000.5`), "timestamp"},
		{"timestamp bool", ev(`,"timestamp":true`), "timestamp"},
		{"timestamp more than 24h ahead", ev(`,"timestamp":` + strconv.FormatInt(testNow.Add(24*time.Hour).UnixMilli()+1, 10)), "timestamp"},
		{"timestamp 2 days ahead as text", ev(`,"timestamp":"2026-03-03T12:00:00Z"`), "timestamp"},
		{"empty event_id", ev(`,"event_id":""`), "event_id"},
		{"event_id too long", ev(`,"event_id":"` + strings.Repeat("k", 129) + `"`), "event_id"},
		{"event_id number", ev(`,"event_id":42`), "event_id"},
		{"event_id object", ev(`,"event_id":{"id":"e1"}`), "event_id"},
		{"event_id with newline", ev(`,"event_id":"e\n1"`), "event_id"},
		{"event_id with nul", ev(`,"event_id":"e\u00001"`), "event_id"},
		{"event_id with tab", ev(`,"event_id":"e\t1"`), "event_id"},
		{"event_id with a unicode line separator", ev(`,"event_id":"e\u20281"`), "event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, form := range []struct{ name, body string }{
				{"object", tt.body},
				{"array", "[" + goodEvent + "," + goodEvent + "," + tt.body + "]"},
				{"ndjson", goodEvent + "\n" + goodEvent + "\n" + tt.body + "\n"},
			} {
				idx := 0
				if form.name != "object" {
					idx = 2
				}
				evs, err := decodeEvents(form.body)
				if evs != nil {
					t.Errorf("%s: returned events %+v with the error", form.name, evs)
				}
				wantFieldErrors(t, err, FieldError{Index: idx, Field: tt.field})
			}
		})
	}
}

func TestDecodeEventsOneBadRefusesAll(t *testing.T) {
	bad := `{"user_id":"u1","event_type":"view","product_id":"p1","price":-1}`
	for _, body := range []string{
		"[" + goodEvent + "," + bad + "," + goodEvent + "]",
		goodEvent + "\n" + bad + "\n" + goodEvent + "\n",
	} {
		evs, err := decodeEvents(body)
		if evs != nil {
			t.Errorf("got %d events with the error, want none", len(evs))
		}
		wantFieldErrors(t, err, FieldError{Index: 1, Field: "price"})
	}
}

func TestDecodeEventsReportsEveryBadItem(t *testing.T) {
	items := []string{
		`{"event_type":"view","product_id":"p1"}`, // 0: user_id
		goodEvent, // 1: fine
		`{"user_id":"u1","event_type":"view","product_id":"p1","price":"x"}`, // 2: price type
		`{"user_id":"u1","event_type":"review","product_id":"p1"}`,           // 3: rating
		goodEvent, // 4: fine
		`{"user_id":2.5,"event_type":"nope","product_id":"p1"}`, // 5: user_id and event_type
	}
	want := []FieldError{{Index: 0, Field: "user_id"}, {Index: 2, Field: "price"}, {Index: 3, Field: "rating"},
		{Index: 5, Field: "user_id"}, {Index: 5, Field: "event_type"}}
	for _, body := range []string{"[" + strings.Join(items, ",") + "]", strings.Join(items, "\n")} {
		evs, err := decodeEvents(body)
		if evs != nil {
			t.Errorf("got events %+v with the error", evs)
		}
		wantFieldErrors(t, err, want...)
	}
}

func TestDecodeEventsMalformed(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		index int // -1: no item index is required
	}{
		{"array item syntax error", "[" + goodEvent + `,{"user_id": }]`, 1},
		{"array missing comma", "[" + goodEvent + goodEvent + "]", 1},
		{"ndjson truncated last line", goodEvent + "\n" + `{"user_id":"u1","event_type":`, 1},
		{"ndjson garbage line", goodEvent + "\n" + goodEvent + "\nnot json\n", 2},
		{"ndjson stray bracket", goodEvent + "]", 1},
		{"object truncated", `{"user_id":"u1"`, 0},
		{"bad escape", `{"user_id":"u\x1"}`, 0},
		{"array not closed", "[" + goodEvent, -1},
		{"array bracket only", "[", -1},
		{"top-level number", "42", -1},
		{"top-level string", `"hello"`, -1},
		{"top-level garbage", "hello", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := decodeEvents(tt.body)
			if err == nil {
				t.Fatalf("err = nil, events %+v", evs)
			}
			if evs != nil {
				t.Errorf("events %+v returned with the error", evs)
			}
			if k := reco.KindOf(err); k != reco.Invalid {
				t.Errorf("KindOf(%v) = %v, want invalid", err, k)
			}
			if tt.index < 0 {
				return
			}
			fields := validationFields(t, err)
			found := false
			for _, f := range fields {
				found = found || f.Index == tt.index
			}
			if !found {
				t.Errorf("fields %+v do not name item %d", fields, tt.index)
			}
		})
	}
}

func TestDecodeEventsEmpty(t *testing.T) {
	for _, body := range []string{"", " ", "\n\n\t\r\n", "[]", " [ ] "} {
		evs, err := decodeEvents(body)
		if err == nil || evs != nil {
			t.Errorf("DecodeEvents(%q) = %v, %v; want an error", body, evs, err)
			continue
		}
		if k := reco.KindOf(err); k != reco.Invalid {
			t.Errorf("DecodeEvents(%q): kind %v, want invalid", body, k)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	batch := func(n int, array bool) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"user_id":"u%d","event_type":"view","product_id":"p1"}`, i)
		}
		if array {
			return "[" + strings.Join(items, ",") + "]"
		}
		return strings.Join(items, "\n") + "\n"
	}
	prods := func(n int, array bool) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"product_id":"p%d"}`, i)
		}
		if array {
			return "[" + strings.Join(items, ",") + "]"
		}
		return strings.Join(items, "\n")
	}
	tests := []struct {
		name    string
		max     int
		n       int
		array   bool
		tooMany bool
	}{
		{"array at limit", 3, 3, true, false},
		{"array over limit", 3, 4, true, true},
		{"ndjson at limit", 3, 3, false, false},
		{"ndjson over limit", 3, 4, false, true},
		{"ndjson far over limit", 3, 50, false, true},
		{"limit of one, object", 1, 1, false, false},
		{"limit of one, two lines", 1, 2, false, true},
		{"default limit reached", 0, 10000, false, false},
		{"default limit exceeded", 0, 10001, false, true},
		{"default limit exceeded, array", 0, 10001, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := Limits{MaxItems: tt.max}
			evs, err := DecodeEvents(strings.NewReader(batch(tt.n, tt.array)), testNow, lim)
			ps, perr := DecodeProducts(strings.NewReader(prods(tt.n, tt.array)), testNow, lim)
			if tt.tooMany {
				if k := reco.KindOf(err); err == nil || k != reco.TooLarge || evs != nil {
					t.Errorf("events: got %d, err %v (kind %v); want too large", len(evs), err, k)
				}
				if k := reco.KindOf(perr); perr == nil || k != reco.TooLarge || ps != nil {
					t.Errorf("products: got %d, err %v (kind %v); want too large", len(ps), perr, k)
				}
				return
			}
			if err != nil || len(evs) != tt.n {
				t.Errorf("events: got %d, err %v; want %d", len(evs), err, tt.n)
			}
			if perr != nil || len(ps) != tt.n {
				t.Errorf("products: got %d, err %v; want %d", len(ps), perr, tt.n)
			}
		})
	}
}

func TestIDMarshalEchoesForm(t *testing.T) {
	tests := []struct {
		in, out string
		valid   bool
	}{
		{`42`, `42`, true},
		{`"42"`, `"42"`, true},
		{`-7`, `-7`, true},
		{`"abc"`, `"abc"`, true},
		{`"a\"b"`, `"a\"b"`, true},
		{`"\u00e9t\u00e9"`, `"été"`, true},
		{`""`, `""`, false},
		{`1.5`, `""`, false},
		{`true`, `""`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct {
				ID ID `json:"id"`
			}
			if err := json.Unmarshal([]byte(`{"id":`+tt.in+`}`), &v); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if v.ID.Valid != tt.valid {
				t.Errorf("Valid = %v, want %v", v.ID.Valid, tt.valid)
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := `{"id":` + tt.out + `}`; string(b) != want {
				t.Errorf("Marshal = %s, want %s", b, want)
			}
		})
	}
}

func TestDecodeProducts(t *testing.T) {
	ts := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	tests := []struct {
		name string
		body string
		want []Product
	}{
		{"id only: nothing else given", `{"product_id":"p1"}`,
			[]Product{{ID: "p1", Time: testNow.UnixMilli()}}},
		{"integer id", `{"product_id":17}`,
			[]Product{{ID: "17", Time: testNow.UnixMilli()}}},
		{"every field", `{"product_id":"p1","category":"shoes","name":"Runner","price":59.5,"inventory":12,"margin":0.3,` +
			`"promoted":true,"available":true,"attributes":{"color":"red","size":"42"},"timestamp":"2026-02-01T00:00:00Z"}`,
			[]Product{{ID: "p1", Category: "shoes", Name: "Runner", Price: 59.5, Inventory: 12, Margin: 0.3, Promoted: true, Available: true,
				Attributes: map[string]string{"color": "red", "size": "42"}, Time: ts,
				HasPrice: true, HasInventory: true, HasMargin: true, HasPromoted: true, HasAvailable: true}}},
		{"zero values are given", `{"product_id":"p1","price":0,"inventory":0,"margin":0,"promoted":false,"available":false}`,
			[]Product{{ID: "p1", Time: testNow.UnixMilli(), HasPrice: true, HasInventory: true, HasMargin: true, HasPromoted: true, HasAvailable: true}}},
		{"only inventory", `{"product_id":"p1","inventory":3}`,
			[]Product{{ID: "p1", Inventory: 3, HasInventory: true, Time: testNow.UnixMilli()}}},
		{"only promoted", `{"product_id":"p1","promoted":true}`,
			[]Product{{ID: "p1", Promoted: true, HasPromoted: true, Time: testNow.UnixMilli()}}},
		{"negative margin allowed", `{"product_id":"p1","margin":-0.1}`,
			[]Product{{ID: "p1", Margin: -0.1, HasMargin: true, Time: testNow.UnixMilli()}}},
		{"epoch timestamp", `{"product_id":"p1","timestamp":` + strconv.FormatInt(ts, 10) + `}`,
			[]Product{{ID: "p1", Time: ts}}},
		{"ndjson of two", "{\"product_id\":\"a\"}\n\n{\"product_id\":\"b\",\"price\":1}\n",
			[]Product{{ID: "a", Time: testNow.UnixMilli()}, {ID: "b", Price: 1, HasPrice: true, Time: testNow.UnixMilli()}}},
		{"array of two", `[{"product_id":"a"},{"product_id":"b","available":false}]`,
			[]Product{{ID: "a", Time: testNow.UnixMilli()}, {ID: "b", HasAvailable: true, Time: testNow.UnixMilli()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeProducts(strings.NewReader(tt.body), testNow, Limits{})
			if err != nil {
				t.Fatalf("DecodeProducts: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeProducts =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeProductsInvalid(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"missing product_id", `{"category":"shoes"}`, "product_id"},
		{"empty product_id", `{"product_id":""}`, "product_id"},
		{"float product_id", `{"product_id":2.5}`, "product_id"},
		{"negative inventory", `{"product_id":"p1","inventory":-1}`, "inventory"},
		{"fractional inventory", `{"product_id":"p1","inventory":1.5}`, "inventory"},
		{"inventory as string", `{"product_id":"p1","inventory":"5"}`, "inventory"},
		{"negative price", `{"product_id":"p1","price":-3}`, "price"},
		{"price as string", `{"product_id":"p1","price":"3"}`, "price"},
		{"margin as string", `{"product_id":"p1","margin":"high"}`, "margin"},
		{"promoted as string", `{"product_id":"p1","promoted":"yes"}`, "promoted"},
		{"attributes not strings", `{"product_id":"p1","attributes":{"n":1}}`, "attributes"},
		{"bad timestamp", `{"product_id":"p1","timestamp":"soon"}`, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"product_id":"ok"}` + "\n" + tt.body
			ps, err := DecodeProducts(strings.NewReader(body), testNow, Limits{})
			if ps != nil {
				t.Errorf("products %+v returned with the error", ps)
			}
			wantFieldErrors(t, err, FieldError{Index: 1, Field: tt.field})
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	_, err := decodeEvents(`[{"event_type":"view","product_id":"p1"},{"user_id":"u","event_type":"bad","product_id":"p"}]`)
	msg := err.Error()
	for _, want := range []string{"item 0: user_id", "item 1: event_type"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

// TestDecodeEventsEventIDForms checks that each item of an array or NDJSON
// batch keeps its own event_id, and that a bad one names the field.
func TestDecodeEventsEventIDForms(t *testing.T) {
	a := `{"user_id":"u1","event_type":"view","product_id":"p1","event_id":"a"}`
	b := `{"user_id":"u1","event_type":"view","product_id":"p1"}`
	c := `{"user_id":"u1","event_type":"view","product_id":"p1","event_id":"c"}`
	for _, form := range []struct{ name, body string }{
		{"array", "[" + a + "," + b + "," + c + "]"},
		{"ndjson", a + "\n" + b + "\n" + c + "\n"},
	} {
		t.Run(form.name, func(t *testing.T) {
			evs, err := decodeEvents(form.body)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, e := range evs {
				keys = append(keys, e.SourceKey)
			}
			if want := []string{"a", "", "c"}; !reflect.DeepEqual(keys, want) {
				t.Errorf("SourceKeys %q, want %q", keys, want)
			}
		})
	}
	_, err := decodeEvents(`{"user_id":"u1","event_type":"view","product_id":"p1","event_id":""}`)
	if reco.KindOf(err) != reco.Invalid || !strings.Contains(err.Error(), "event_id: must not be empty") {
		t.Errorf("empty event_id: %v", err)
	}
}
