package offline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/recohq/reco/internal/offline"
)

// genProductRows makes n product_features rows on one day: distinct floats,
// strings and times that outgrow the writer's dictionaries (so it falls
// back to PLAIN within a column chunk), low-cardinality values, and runs
// of nulls longer than the writer's chunks.
func genProductRows(n int, seed uint64) []offline.Row {
	rng := rand.New(rand.NewPCG(seed, 3))
	rows := make([]offline.Row, n)
	for i := range rows {
		category := offline.Str(fmt.Sprintf("cat-%d", rng.IntN(40)))
		if i%5000 > 4000 {
			category = offline.Str(fmt.Sprintf("long-%d-%x", i, rng.Uint64()))
		}
		price := offline.Float(rng.Float64() * 100)
		if rng.IntN(7) == 0 {
			category, price = offline.Null, offline.Null
		}
		rating := offline.Null
		if i%3000 < 1500 {
			rating = offline.Float(float64(rng.IntN(50)) / 10)
		}
		rows[i] = offline.Row{Key: fmt.Sprintf("p%d", rng.IntN(n)), Time: ms(0, 0, 0) + rng.Int64N(day), Values: []offline.Value{
			category, price, offline.Float(float64(rng.IntN(10))), offline.Float(rng.Float64()), rating,
			offline.Int(rng.Int64N(1 << 40)),
		}}
	}
	return rows
}

// sameRows fails t with the first difference between got and want.
func sameRows(t *testing.T, what string, got, want []offline.Row) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: row %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
}

func TestLargeBatchesRoundTrip(t *testing.T) {
	s := newStore(t)
	var want []offline.Row
	// 150k rows: two row groups written in parallel, each past dictMaxBytes.
	for b, n := range []int{150_000, 30_000} {
		rows := genProductRows(n, uint64(b))
		if err := s.WriteRows(ctx, offline.ProductFeatures, fmt.Sprintf("p-%d", b), rows); err != nil {
			t.Fatal(err)
		}
		want = append(want, rows...)
	}
	// A file in the layout written before the write path chose encodings
	// (every column PLAIN or DELTA_LENGTH_BYTE_ARRAY): still read, and
	// compacted together with the new ones.
	old := genProductRows(5_000, 9)
	putPlainFile(t, s, offline.ProductFeatures, "view=product_features/date=2025-03-10/old.parquet", old)
	want = append(want, old...)
	sortRows(want)
	sameRows(t, "before compaction", readAll(t, s, offline.ProductFeatures), want)
	st, err := s.Compact(ctx, offline.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesIn != 3 || st.FilesOut != 1 {
		t.Fatalf("compaction %+v", st)
	}
	sameRows(t, "after compaction", readAll(t, s, offline.ProductFeatures), want)
}

// putPlainFile writes rows of view as a Parquet file without chosen
// encodings, as the store wrote them before.
func putPlainFile(t *testing.T, s *offline.Store, view, key string, rows []offline.Row) {
	t.Helper()
	v, err := s.View(view)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(ty offline.Type) parquet.Node {
		switch ty {
		case offline.Float64:
			return parquet.Leaf(parquet.DoubleType)
		case offline.String:
			return parquet.String()
		case offline.Timestamp:
			return parquet.Timestamp(parquet.Millisecond)
		}
		return parquet.Int(64)
	}
	g := parquet.Group{v.Entity: parquet.String(), offline.TimeColumn: parquet.Timestamp(parquet.Millisecond)}
	for _, f := range v.Fields {
		g[f.Name] = parquet.Optional(leaf(f.Type))
	}
	schema := parquet.NewSchema(v.Name, g)
	col := map[string]int{}
	for i, path := range schema.Columns() {
		col[path[0]] = i
	}
	var b bytes.Buffer
	w := parquet.NewGenericWriter[any](&b, schema)
	for _, r := range rows {
		pr := make(parquet.Row, len(col))
		k, tm := col[v.Entity], col[offline.TimeColumn]
		pr[k] = parquet.ByteArrayValue([]byte(r.Key)).Level(0, 0, k)
		pr[tm] = parquet.Int64Value(r.Time).Level(0, 0, tm)
		for j, f := range v.Fields {
			c := col[f.Name]
			var pv parquet.Value
			switch val := r.Values[j]; {
			case val.Null:
				pr[c] = parquet.NullValue().Level(0, 0, c)
				continue
			case f.Type == offline.Float64:
				pv = parquet.DoubleValue(val.Float)
			case f.Type == offline.String:
				pv = parquet.ByteArrayValue([]byte(val.Str))
			default:
				pv = parquet.Int64Value(val.Int)
			}
			pr[c] = pv.Level(0, 1, c)
		}
		if _, err := w.WriteRows([]parquet.Row{pr}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Bucket().Put(ctx, key, bytes.NewReader(b.Bytes()), int64(b.Len())); err != nil {
		t.Fatal(err)
	}
}
