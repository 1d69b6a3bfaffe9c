package event

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func BenchmarkDecodeEventsNDJSON(b *testing.B) {
	const n = 1000
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"user_id":"user-%d","event_type":"view","product_id":"prod-%d","session_id":"s-%d","category":"cat-%d","price":%d.99,"timestamp":%d}`+"\n",
			i%97, i, i%13, i%11, i%50, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC).UnixMilli()+int64(i))
	}
	body := buf.Bytes()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		evs, err := DecodeEvents(bytes.NewReader(body), now, Limits{})
		if err != nil || len(evs) != n {
			b.Fatalf("DecodeEvents: %d events, %v", len(evs), err)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkCodec(b *testing.B) {
	e := Event{Type: Purchase, UserID: "user-123456", ProductID: "prod-98765", SessionID: "sess-abcdef", Category: "electronics",
		Price: 199.99, Quantity: 2, Time: 1772359200000, RequestID: "req-0123456789", Ingested: 1772359200123}
	var buf []byte
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], &e)
		if err := Decode(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
	if r.Event != e {
		b.Fatalf("round trip: %+v", r.Event)
	}
}
