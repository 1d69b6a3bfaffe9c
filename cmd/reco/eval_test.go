package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestEvalCommandJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.tsv")
	var b strings.Builder
	b.WriteString("user\titem\tbehavior\tsplit\n")
	// Users view items 1..4; those who viewed item 2 buy it in the test.
	for u := 0; u < 30; u++ {
		for i := 1; i <= 4; i++ {
			if (u+i)%3 != 0 {
				b.WriteString(itoa(u) + "\t" + itoa(i) + "\tview\ttrain\n")
			}
		}
		b.WriteString(itoa(u) + "\t" + itoa(5+u%3) + "\tbuy\ttrain\n")
		b.WriteString(itoa(u) + "\t" + itoa(1+u%4) + "\tbuy\ttest\n")
	}
	os.WriteFile(file, []byte(b.String()), 0o644)
	var out bytes.Buffer
	err := run(context.Background(), []string{"eval", "--format", "taobao", file, "--json", "--strategies", "popular,history,ease,full_rules"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Strategies []map[string]any `json:"strategies"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(res.Strategies) != 4 || res.Strategies[3]["name"] != "full_rules" {
		t.Fatalf("%s", out.String())
	}
	for _, s := range res.Strategies {
		for _, k := range []string{"hit_rate@10", "ndcg@10", "recall@20", "mrr@10", "coverage", "users"} {
			if _, ok := s[k]; !ok {
				t.Fatalf("%v lacks %s", s, k)
			}
		}
		if s["users"].(float64) != 30 {
			t.Fatalf("users %v", s["users"])
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
