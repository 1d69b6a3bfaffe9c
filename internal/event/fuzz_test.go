package event

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, and a
// record it accepts must survive re-encoding: encode(decode(x)) decodes to
// something that encodes to the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, e := range allEncoded() {
		f.Add(e.data)
		if len(e.data) > 3 {
			f.Add(e.data[:len(e.data)/2])
		}
	}
	f.Add([]byte{})
	f.Add([]byte{codecVersion})
	f.Add([]byte{codecVersion, byte(KindImpression), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := Decode(data, &r); err != nil {
			return
		}
		first := encodeRecord(&r)
		var r2 Record
		if err := Decode(first, &r2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if second := encodeRecord(&r2); !bytes.Equal(first, second) {
			t.Fatalf("re-encoding is not stable:\n%x\n%x", first, second)
		}
	})
}

func encodeRecord(r *Record) []byte {
	switch r.Kind {
	case KindEvent:
		return AppendEvent(nil, &r.Event)
	case KindProduct:
		return AppendProduct(nil, &r.Product)
	case KindImpression:
		return AppendImpression(nil, &r.Impression)
	}
	panic(fmt.Sprintf("Decode accepted unknown kind %d", r.Kind))
}

// FuzzDecodeEvents feeds arbitrary bodies to DecodeEvents. It must never
// panic, and every event it returns must be valid.
func FuzzDecodeEvents(f *testing.F) {
	seeds := []string{
		goodEvent,
		"[" + goodEvent + "," + goodEvent + "]",
		goodEvent + "\n\n" + goodEvent + "\n",
		`{"user_id":42,"event_type":"review","product_id":7,"rating":5,"timestamp":1772359200000}`,
		`{"user_id":"u","event_type":"purchase","product_id":"p","price":9.5,"quantity":2,"timestamp":"2026-03-01T10:00:00Z","session_id":"s"}`,
		`{"user_id":1.5,"event_type":"nope","product_id":true,"price":"x","quantity":0}`,
		`[{"user_id":"u"},`,
		`{"user_id":"a\"b","event_type":"view","product_id":"\u00e9"}`,
		"",
		"[]",
		"[1,2]",
		`{"user_id":null,"event_type":null,"product_id":null}`,
		`{"user_id":"u","event_type":"view","product_id":"p","event_id":"e-1"}`,
		`{"user_id":"u","event_type":"view","product_id":"p","event_id":"e\u0000"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeEvents(bytes.NewReader(body), now, Limits{MaxItems: 100})
		if err != nil {
			if evs != nil {
				t.Fatalf("events returned with error %v", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no error and no events")
		}
		for i, e := range evs {
			if e.UserID == "" || e.ProductID == "" {
				t.Errorf("event %d has an empty id: %+v", i, e)
			}
			if e.Type < View || e.Type > Review || strings.HasPrefix(e.Type.String(), "type(") {
				t.Errorf("event %d has invalid type %d", i, e.Type)
			}
			if e.Quantity < 1 {
				t.Errorf("event %d has quantity %d", i, e.Quantity)
			}
			if e.Price != -1 && !(e.Price >= 0) {
				t.Errorf("event %d has price %v", i, e.Price)
			}
			if (e.Type == Review) != (e.Rating != 0) || e.Rating < 0 || e.Rating > 5 {
				t.Errorf("event %d: type %v with rating %d", i, e.Type, e.Rating)
			}
			if e.Time > now.Add(24*time.Hour).UnixMilli() {
				t.Errorf("event %d is in the future: %d", i, e.Time)
			}
			if len(e.SourceKey) > maxEventID || (e.SourceKey != "" && eventIDProblem(e.SourceKey) != "") {
				t.Errorf("event %d has a bad event_id %q", i, e.SourceKey)
			}
		}
	})
}
