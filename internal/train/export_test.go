package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/rank"
)

func TestExportRoundTrip(t *testing.T) {
	mk := func(time int64, user string, labels ...float32) Query {
		q := Query{Time: time, UserID: user, Labels: labels}
		for r := range labels {
			for c := 0; c < rank.NumFeatures; c++ {
				v := float32(r*100 + c)
				if c == 3 {
					v = float32(math.NaN())
				}
				q.X = append(q.X, v)
			}
		}
		return q
	}
	t0 := int64(1_790_000_000_000)
	qs := []Query{mk(t0, "a", 1, 0, 0), mk(t0+1000, "b", 0, 4), mk(t0+2000, "c", 0, 0, 2, 0), mk(t0+3000, "d", 1)}
	dir := t.TempDir()
	rows, err := Export(context.Background(), dir, qs, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 10 {
		t.Fatalf("%d rows exported, want 10", rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "schema.json")); err != nil {
		t.Fatal(err)
	}
	st, err := offline.New(fileblob.New(dir), offline.Options{Views: []offline.View{ExportView()}})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := st.ReadRows(context.Background(), "training_set", t0, t0+10_000, []string{"label", "qid", "split", rank.FeatureNames[0], rank.FeatureNames[3]})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 10 {
		t.Fatalf("read back %d rows", tab.Len())
	}
	var labelSum float64
	valid := 0
	for i := 0; i < tab.Len(); i++ {
		labelSum += tab.Cols[0].Value(i).Float
		if tab.Cols[2].Value(i).Str == "valid" {
			valid++
			if tab.Cols[1].Value(i).Int != 3 {
				t.Errorf("row %d: valid split in query %d, want the latest (3)", i, tab.Cols[1].Value(i).Int)
			}
		}
		if !tab.Cols[4].Value(i).Null {
			t.Errorf("row %d: a NaN feature exported as %+v, want null", i, tab.Cols[4].Value(i))
		}
	}
	if labelSum != 8 || valid != 1 {
		t.Errorf("labels sum to %v (want 8), %d valid rows (want 1)", labelSum, valid)
	}
}
