package offline

import (
	"context"
	"fmt"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/recohq/reco"
)

// EntityRow is one row to join features to: an entity key and the time
// (Unix ms) the features must be as of.
type EntityRow struct {
	Key  string
	Time int64
}

// Result is a point-in-time join's output, aligned with its entity rows.
type Result struct {
	Cols    []Column // one per requested feature, Len() == len(entities)
	Matched []bool   // whether a feature row was found
	RowTime []int64  // the timestamp of the feature row used (0 when not matched)
}

// PointInTime returns, for each entity row, the named features of the
// latest row of view for the same key with
//
//	entity.Time - view.TTL < row.Time <= entity.Time
//
// never a later one: a row stamped exactly at the entity time is used, a
// row exactly TTL old is not. When several rows of a key share the latest
// timestamp, the one read last (files in name order) wins. Files are read in
// whatever order rows arrived: the join sorts by (key, time) itself.
//
// It reads only the date partitions that can match and only the entity,
// timestamp and requested columns, and keeps only rows of requested keys.
func (s *Store) PointInTime(ctx context.Context, view string, features []string, entities []EntityRow) (*Result, error) {
	v, err := s.View(view)
	if err != nil {
		return nil, err
	}
	if len(features) == 0 {
		return nil, reco.Errorf("offline.PointInTime", reco.Invalid, "no features requested")
	}
	want, err := fieldIndexes(v, features)
	if err != nil {
		return nil, err
	}
	res := &Result{Cols: make([]Column, len(want)), Matched: make([]bool, len(entities)), RowTime: make([]int64, len(entities))}
	for i, j := range want {
		res.Cols[i] = newColumn(v.Fields[j], len(entities))
		for r := range entities {
			res.Cols[i].Null[r] = true
		}
	}
	if len(entities) == 0 {
		return res, nil
	}
	// Dense ids for the distinct keys; the time range that can match.
	ids := make(map[string]int32, len(entities)/2)
	minT, maxT := entities[0].Time, entities[0].Time
	for _, e := range entities {
		if _, ok := ids[e.Key]; !ok {
			ids[e.Key] = int32(len(ids))
		}
		minT, maxT = min(minT, e.Time), max(maxT, e.Time)
	}
	ttl := v.TTL.Milliseconds()
	from, to := minT-ttl+1, maxT // inclusive
	fr := featureRows{cols: make([]Column, len(want))}
	for i, j := range want {
		fr.cols[i] = Column{Field: v.Fields[j]}
	}
	df, dt := dateRange(from, to)
	parts, err := s.partitions(ctx, viewPrefix(view), df, dt)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		live, _, err := s.openPartition(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, f := range live {
			if err == nil {
				err = fr.read(f, v, want, ids, from, to)
			}
			f.close()
		}
		if err != nil {
			return nil, err
		}
	}
	fr.join(len(ids), ids, entities, ttl, res)
	return res, nil
}

// featureRows are the candidate feature rows of a join, columnar.
type featureRows struct {
	key  []int32
	time []int64
	cols []Column
}

// read appends the rows of f whose key is in ids and time in [from, to].
func (fr *featureRows) read(f *openFile, v *View, want []int, ids map[string]int32, from, to int64) error {
	ci, err := indexOf(f.f.Schema(), v)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.info.Key, err)
	}
	var times []int64
	var keys []int32
	for _, rg := range f.f.RowGroups() {
		times, err = readTimes(rg, ci.time, times[:0])
		if err != nil {
			return fmt.Errorf("read %s: %w", f.info.Key, err)
		}
		keys = keys[:0]
		err = readColumn(rg.ColumnChunks()[ci.key], func(vals []parquet.Value) {
			for _, val := range vals {
				id, ok := ids[string(val.ByteArray())]
				if !ok {
					id = -1
				}
				keys = append(keys, id)
			}
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", f.info.Key, err)
		}
		if len(keys) != len(times) {
			return fmt.Errorf("read %s: %d keys for %d timestamps", f.info.Key, len(keys), len(times))
		}
		keep := make([]bool, len(times))
		any := false
		for i := range keys {
			if keys[i] >= 0 && times[i] >= from && times[i] <= to {
				keep[i] = true
				any = true
				fr.key = append(fr.key, keys[i])
				fr.time = append(fr.time, times[i])
			}
		}
		if !any {
			continue
		}
		for c, j := range want {
			if err := appendColumn(rg, ci.fields[j], &fr.cols[c], keep); err != nil {
				return fmt.Errorf("read %s: %w", f.info.Key, err)
			}
		}
	}
	return nil
}

// join fills res: a counting sort of the rows by key, a sort by time within
// each key, then a binary search per entity row.
func (fr *featureRows) join(nkeys int, ids map[string]int32, entities []EntityRow, ttl int64, res *Result) {
	start := make([]int32, nkeys+1)
	for _, k := range fr.key {
		start[k+1]++
	}
	for k := 0; k < nkeys; k++ {
		start[k+1] += start[k]
	}
	order := make([]int32, len(fr.key))
	next := slices.Clone(start[:nkeys])
	for i, k := range fr.key {
		order[next[k]] = int32(i)
		next[k]++
	}
	// Within a key: by time, ties in read order (the row index).
	less := func(a, b int32) int {
		if ta, tb := fr.time[a], fr.time[b]; ta != tb {
			if ta < tb {
				return -1
			}
			return 1
		}
		return int(a - b)
	}
	for k := 0; k < nkeys; k++ {
		g := order[start[k]:start[k+1]]
		if len(g) < 12 {
			for i := 1; i < len(g); i++ {
				for j := i; j > 0 && less(g[j-1], g[j]) > 0; j-- {
					g[j-1], g[j] = g[j], g[j-1]
				}
			}
		} else {
			slices.SortFunc(g, less)
		}
	}
	for r, e := range entities {
		k := ids[e.Key]
		g := order[start[k]:start[k+1]]
		// The first row later than e.Time; the one before it is the answer.
		lo, hi := 0, len(g)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if fr.time[g[m]] <= e.Time {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo == 0 {
			continue
		}
		row := g[lo-1]
		if fr.time[row] <= e.Time-ttl {
			continue // too old
		}
		res.Matched[r] = true
		res.RowTime[r] = fr.time[row]
		for c := range res.Cols {
			res.Cols[c].set(r, fr.cols[c].Value(int(row)))
		}
	}
}
