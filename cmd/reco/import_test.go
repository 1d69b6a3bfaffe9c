package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recohq/reco/internal/app"
	"github.com/recohq/reco/internal/config"
)

const importRetail = `"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"
"536365","85123A","WHITE HANGING HEART T-LIGHT HOLDER",6,"2010-12-01 08:26:00",2.55,17850,"United Kingdom"
"C536379","D","Discount",-1,"2010-12-01 09:41:00",27.5,14527,"United Kingdom"
"536366","22633","HAND WARMER UNION JACK",6,"2010-12-01 08:28:00",1.85,17850,"United Kingdom"
"536367","84879","ASSORTED COLOUR BIRD ORNAMENT",32,"2010-12-01 08:34:00",1.69,NA,"United Kingdom"
"536368","22960","JAM MAKING SET WITH JARS",6,"garbage",4.25,13047,"United Kingdom"
"536369","85123A","WHITE HANGING HEART T-LIGHT HOLDER",3,"2010-12-01 08:35:00",2.55,13047,"United Kingdom"
`

func TestImportCommandIdempotent(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "retail.csv.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(importRetail))
	zw.Close()
	os.WriteFile(file, buf.Bytes(), 0o644)
	data := filepath.Join(dir, "data")
	var out, errOut bytes.Buffer
	args := []string{"import", "--format", "online-retail", file, "--data", data}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"events read   6", "accepted      3", "rejected: cancellation", "rejected: no customer", "malformed           1", "products      2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), ":6: skipped malformed row") {
		t.Errorf("malformed row not reported with its line:\n%s", errOut.String())
	}
	out.Reset()
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already imported") {
		t.Errorf("re-import: %s", out.String())
	}
	// The state (restored from the import's final checkpoint) counts each
	// purchase once.
	cfg := config.Default()
	cfg.DataDir = data
	a, err := app.Open(cfg, app.Options{Logger: newLogger("error", io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Log.Close()
	p, ok := a.Store.Product("85123A")
	if !ok || p.Purchases != 2 || p.Category != "holder" || !p.InCatalog {
		t.Fatalf("product state after two imports: %+v", p)
	}
	if u, ok := a.Store.User("17850"); !ok || u.Purchases != 2 {
		t.Fatalf("user state: %+v", u)
	}

	// --on-error fail: a fresh data dir, the malformed line is fatal.
	err = run(context.Background(), []string{"import", "--format", "online-retail", "--on-error", "fail", "--data", filepath.Join(dir, "d2"), file}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), ":6:") {
		t.Fatalf("on-error fail: %v", err)
	}
}

func TestImportCommandFormats(t *testing.T) {
	dir := t.TempDir()
	nd := filepath.Join(dir, "e.ndjson")
	os.WriteFile(nd, []byte(`{"user_id":"u1","event_type":"view","product_id":"p1","timestamp":"2024-01-02T03:04:05Z"}
{"user_id":"u1","event_type":"add_to_cart","product_id":"p1","timestamp":"2024-01-02T03:05:05Z"}
`), 0o644)
	tb := filepath.Join(dir, "t.tsv")
	os.WriteFile(tb, []byte("user\titem\tbehavior\tsplit\n7\t1\tview\ttrain\n7\t1\tbuy\ttrain\n7\t2\tbuy\ttest\n"), 0o644)
	cs := filepath.Join(dir, "c.csv")
	os.WriteFile(cs, []byte("who,what,when\nu2,p1,2024-01-03 00:00:00\n"), 0o644)
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	for _, args := range [][]string{
		{"import", "--format", "ndjson", nd, "--data", data},
		{"import", "--format", "taobao", tb, "--data", data},
		{"import", "--format", "csv", "--map", "user_id=who,product_id=what,timestamp=when,event_type=const:purchase", cs, "--data", data},
	} {
		var out bytes.Buffer
		if err := run(ctx, args, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	cfg := config.Default()
	cfg.DataDir = data
	a, err := app.Open(cfg, app.Options{Logger: newLogger("error", io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Log.Close()
	if p, _ := a.Store.Product("p1"); p == nil || p.Views != 1 || p.Carts != 1 || p.Purchases != 1 {
		t.Fatalf("p1: %+v", p)
	}
	if p, _ := a.Store.Product("2"); p != nil {
		t.Fatalf("a taobao test row was imported: %+v", p)
	}
	if p, _ := a.Store.Product("1"); p == nil || p.Purchases != 1 {
		t.Fatalf("taobao item 1: %+v", p)
	}
}
