package eval

import (
	"context"
	"os"
	"testing"
)

const (
	retailFile = "../../../shared/data/online-retail/online_retail.csv.gz"
	taobaoFile = "../../../shared/data/taobao-multibehavior/interactions.tsv.gz"
)

// The user counts the data README states for each protocol.
func TestProtocolCountsOnRealData(t *testing.T) {
	if _, err := os.Stat(retailFile); err != nil {
		t.Skip("Online Retail data absent")
	}
	ctx := context.Background()
	for variant, want := range map[string]int{"all": 1396, "novel": 1295} {
		ds, err := LoadRetail(ctx, retailFile, RetailTestFrom, RetailTestTo, variant)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Eval) != want {
			t.Errorf("online retail %s: %d users, want %d", variant, len(ds.Eval), want)
		}
		v, err := ds.Validation()
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Eval) == 0 || v.Split != RetailValidFrom {
			t.Errorf("validation: %d users, split %v", len(v.Eval), v.Split)
		}
		for _, x := range v.Train {
			if x.Time >= RetailValidFrom.UnixMilli() {
				t.Fatal("validation training data reaches into the validation month")
			}
		}
	}
	if _, err := os.Stat(taobaoFile); err != nil {
		t.Skip("Taobao data absent")
	}
	ds, err := LoadTaobao(ctx, taobaoFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Eval) != 15449 || len(ds.Items) != 11953 || len(ds.Users) != 15449 {
		t.Errorf("taobao: %d users evaluated, %d items, %d users", len(ds.Eval), len(ds.Items), len(ds.Users))
	}
	// Training input only: 873,954 + 195,476 + 107,629 rows minus one test
	// view, cart and buy per user.
	if want := 873954 + 195476 + 107629 - 3*15449; len(ds.Train) != want {
		t.Errorf("taobao: %d training events, want %d", len(ds.Train), want)
	}
	for _, eu := range ds.Eval {
		for it := range eu.Truth {
			if eu.Mask[it] {
				t.Fatal("a held-out buy is masked")
			}
		}
	}
}
