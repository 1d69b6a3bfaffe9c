package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/recohq/reco/internal/event"
)

const retailCSV = `"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"
"536365","85123A","WHITE HANGING HEART T-LIGHT HOLDER",6,"2010-12-01 08:26:00",2.55,17850,"United Kingdom"
"C536379","D","Discount",-1,"2010-12-01 09:41:00",27.5,14527,"United Kingdom"
"536366","22633","HAND WARMER UNION JACK",0,"2010-12-01 08:28:00",1.85,17850,"United Kingdom"
"536367","84879","ASSORTED COLOUR BIRD ORNAMENT",32,"2010-12-01 08:34:00",1.69,NA,"United Kingdom"
"536368","22960","JAM MAKING SET WITH JARS",6,"not a date",4.25,13047,"United Kingdom"
"536369","85123A","WHITE HANGING HEART T-LIGHT HOLDER",3,"2010-12-01 08:35:00",2.55,13047,"United Kingdom"
`

func parseAll(t *testing.T, data []byte, o Options) []Row {
	t.Helper()
	var rows []Row
	if err := Parse(context.Background(), bytes.NewReader(data), o, func(r Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestParseRetail(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		data := []byte(retailCSV)
		if compressed {
			data = gz(data)
		}
		rows := parseAll(t, data, Options{Format: "online-retail", KeyPrefix: "abc"})
		if len(rows) != 6 {
			t.Fatalf("gzip %v: %d rows", compressed, len(rows))
		}
		want := []struct {
			line   int
			reject string
			bad    bool
		}{{2, "", false}, {3, "cancellation", false}, {4, "quantity <= 0", false}, {5, "no customer", false}, {6, "", true}, {7, "", false}}
		for i, w := range want {
			r := rows[i]
			if r.Line != w.line || r.Reject != w.reject || (r.Err != nil) != w.bad {
				t.Fatalf("row %d: %+v, want %+v", i, r, w)
			}
		}
		e := rows[0].Event
		if e.UserID != "17850" || e.ProductID != "85123A" || e.Type != event.Purchase || e.Quantity != 6 || e.Price != 2.55 ||
			e.Category != "holder" || e.SourceKey != "abc:2" || e.Time != 1291191960000 {
			t.Fatalf("event %+v", e)
		}
		if rows[0].Product == nil || rows[0].Product.Name != "WHITE HANGING HEART T-LIGHT HOLDER" || rows[5].Product != nil {
			t.Fatalf("catalog upserts: %+v / %+v", rows[0].Product, rows[5].Product)
		}
		if !strings.Contains(rows[4].Err.Error(), "InvoiceDate") {
			t.Fatalf("error %v", rows[4].Err)
		}
	}
}

func TestRetailCategory(t *testing.T) {
	for desc, want := range map[string]string{
		"WHITE HANGING HEART T-LIGHT HOLDER":  "holder",
		"SET 7 BABUSHKA NESTING BOXES":        "box",
		"JAM MAKING SET WITH JARS":            "jar",
		"RED WOOLLY HOTTIE WHITE HEART.":      "heart",
		"PACK OF 72 RETROSPOT CAKE CASES":     "case",
		"LUNCH BAG RED RETROSPOT":             "bag",
		"SWEETHEART CERAMIC TRINKET BOX":      "box",
		"POSTAGE":                             "postage",
		"12 PENCILS SMALL TUBE RED RETROSPOT": "tube",
		"":                                    "",
	} {
		if got := RetailCategory(desc); got != want {
			t.Errorf("RetailCategory(%q) = %q, want %q", desc, got, want)
		}
	}
}

func TestParseTaobao(t *testing.T) {
	data := "user\titem\tbehavior\tsplit\n0\t1\tview\ttrain\n0\t1\tcart\ttrain\n0\t2\tbuy\ttrain\n0\t3\tbuy\ttest\n1\t1\tclick\ttrain\n"
	rows := parseAll(t, []byte(data), Options{Format: "taobao"})
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	types := []event.Type{event.View, event.AddToCart, event.Purchase}
	for i, ty := range types {
		if rows[i].Event == nil || rows[i].Event.Type != ty {
			t.Fatalf("row %d: %+v", i, rows[i])
		}
		if i > 0 && rows[i].Event.Time <= rows[i-1].Event.Time {
			t.Fatalf("times not increasing: %+v", rows)
		}
	}
	if rows[3].Reject != "test split" || rows[4].Err == nil || rows[4].Line != 6 {
		t.Fatalf("rows: %+v %+v", rows[3], rows[4])
	}
	rows = parseAll(t, []byte(data), Options{Format: "taobao", IncludeTest: true})
	if rows[3].Event == nil || rows[3].Split != "test" {
		t.Fatalf("include test: %+v", rows[3])
	}
}

func TestParseNDJSONAndCSV(t *testing.T) {
	nd := `{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":"2024-01-02T03:04:05Z"}

{"user_id":"u1","event_type":"purchase","product_id":"p2","timestamp":1700000000000,"price":3.5}
{"user_id":"u1","event_type":"teleport","product_id":"p2"}
{not json
`
	rows := parseAll(t, []byte(nd), Options{Format: "ndjson", KeyPrefix: "k"})
	if len(rows) != 4 || rows[0].Event == nil || rows[1].Event.Price != 3.5 || rows[1].Line != 3 || rows[1].Event.SourceKey != "k:3" {
		t.Fatalf("ndjson rows %+v", rows)
	}
	if rows[2].Err == nil || rows[2].Line != 4 || rows[3].Err == nil || rows[3].Line != 5 {
		t.Fatalf("ndjson errors %+v %+v", rows[2], rows[3])
	}
	csvData := "Cust,Code,When,Kind,Cost\nc1,p1,2011-01-02 03:04:05,view,1.5\nc2,p2,1700000000000,purchase,\nc3,p3,2024-01-02T03:04:05Z,buy,1\nc4,p4,yesterday,view,1\n"
	m, err := ParseMap("user_id=Cust,product_id=Code,timestamp=When,event_type=Kind,price=Cost")
	if err != nil {
		t.Fatal(err)
	}
	rows = parseAll(t, []byte(csvData), Options{Format: "csv", Map: m})
	if len(rows) != 4 || rows[0].Event == nil || rows[0].Event.Time != 1293937445000 || rows[0].Event.Price != 1.5 ||
		rows[1].Event == nil || rows[1].Event.Time != 1700000000000 || rows[1].Event.Type != event.Purchase {
		t.Fatalf("csv rows %+v", rows)
	}
	if rows[2].Err == nil || !strings.Contains(rows[2].Err.Error(), "event_type") || rows[3].Err == nil || rows[3].Line != 5 {
		t.Fatalf("csv errors %+v %+v", rows[2], rows[3])
	}
	m2, _ := ParseMap("user_id=Cust,product_id=Code,timestamp=When,event_type=const:purchase")
	rows = parseAll(t, []byte(csvData), Options{Format: "csv", Map: m2})
	if rows[0].Event == nil || rows[0].Event.Type != event.Purchase {
		t.Fatalf("const mapping: %+v", rows[0])
	}
	if _, err := ParseMap("user_id=A,bogus=B"); err == nil {
		t.Fatal("unknown field accepted")
	}
}

type memSink struct {
	mu       sync.Mutex
	events   []event.Event
	products []event.Product
	failAt   int // fail the IngestEvents call number failAt (1-based); 0 never
	calls    int
}

func (s *memSink) IngestEvents(_ context.Context, evs []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == s.failAt {
		return errors.New("disk on fire")
	}
	s.events = append(s.events, evs...)
	return nil
}

func (s *memSink) UpsertProducts(_ context.Context, ps []event.Product) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.products = append(s.products, ps...)
	return nil
}

func TestRunLedgerResumeAndFail(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.csv.gz")
	os.WriteFile(file, gz([]byte(retailCSV)), 0o644)
	ledger := filepath.Join(dir, "imports.json")
	o := RunOptions{Options: Options{Format: "online-retail"}, BatchSize: 1, Ledger: ledger}

	// The second batch fails: the first is committed, the run stops.
	sink := &memSink{failAt: 2}
	if _, err := Run(context.Background(), sink, []string{file}, o); err == nil {
		t.Fatal("no error from a failing sink")
	}
	if len(sink.events) != 1 {
		t.Fatalf("%d events before the failure", len(sink.events))
	}
	// Resume: only the missing event is added.
	sink.failAt = 0
	o.Committed = func(prefix string) (map[int]bool, error) {
		m := map[int]bool{}
		for _, e := range sink.events {
			if n, ok := LineOfKey(e.SourceKey, prefix); ok {
				m[n] = true
			}
		}
		return m, nil
	}
	st, err := Run(context.Background(), sink, []string{file}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !st[0].Resumed || len(sink.events) != 2 || sink.events[1].SourceKey == sink.events[0].SourceKey {
		t.Fatalf("resume: %+v, events %+v", st[0], sink.events)
	}
	// Re-import: nothing.
	st, err = Run(context.Background(), sink, []string{file}, o)
	if err != nil || !st[0].Already || len(sink.events) != 2 {
		t.Fatalf("re-import: %+v %v, %d events", st[0], err, len(sink.events))
	}
	// --on-error fail stops at the malformed row with its line.
	o2 := RunOptions{Options: Options{Format: "online-retail"}, OnError: "fail"}
	_, err = Run(context.Background(), &memSink{}, []string{file}, o2)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 6 {
		t.Fatalf("on-error fail: %v", err)
	}
}
