package offline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// The Parquet layout of a view file: the entity column (string, required),
// "timestamp" (TIMESTAMP(MILLIS), required) and one optional column per
// feature. parquet-go orders a group's columns by name, so colIndex maps
// names to leaf column indexes.

// inputsKey is the key-value metadata of a compacted file that lists every
// file it replaces (see compact.go).
const inputsKey = "reco.inputs"

// fastZstd compresses fresh batches: the write path must keep up with the
// stream. Compaction recompresses with the default (denser) level.
var fastZstd = &zstd.Codec{Level: zstd.SpeedFastest}

// rowGroupRows bounds a row group so that readers stream a big file in parts.
const rowGroupRows = 1 << 20

func leafNode(t Type) parquet.Node {
	switch t {
	case Int64:
		return parquet.Int(64)
	case Float64:
		return parquet.Leaf(parquet.DoubleType)
	case String:
		return parquet.String()
	}
	return parquet.Timestamp(parquet.Millisecond)
}

func viewSchema(v *View) *parquet.Schema {
	g := parquet.Group{v.Entity: parquet.String(), TimeColumn: parquet.Timestamp(parquet.Millisecond)}
	for _, f := range v.Fields {
		g[f.Name] = parquet.Optional(leafNode(f.Type))
	}
	return parquet.NewSchema(v.Name, g)
}

// colIndex locates a view's columns in a schema.
type colIndex struct {
	key, time int
	fields    []int // per view field; -1 = not in this file (read as null)
	n         int
}

func indexOf(s *parquet.Schema, v *View) (colIndex, error) {
	ci := colIndex{key: -1, time: -1, fields: make([]int, len(v.Fields)), n: len(s.Columns())}
	for i := range ci.fields {
		ci.fields[i] = -1
	}
	for i, path := range s.Columns() {
		if len(path) != 1 {
			continue
		}
		switch name := path[0]; name {
		case v.Entity:
			ci.key = i
		case TimeColumn:
			ci.time = i
		default:
			if j := v.Field(name); j >= 0 {
				ci.fields[j] = i
			}
		}
	}
	if ci.key < 0 || ci.time < 0 {
		return ci, fmt.Errorf("schema has no %s or %s column", v.Entity, TimeColumn)
	}
	return ci, nil
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// encodeRows writes rows of view v as one ZSTD Parquet file. Each row must
// have one value per field of v.
func encodeRows(w io.Writer, v *View, rows []Row, meta map[string]string) error {
	schema := viewSchema(v)
	ci, err := indexOf(schema, v)
	if err != nil {
		return err
	}
	opts := []parquet.WriterOption{schema, parquet.Compression(fastZstd), parquet.MaxRowsPerRowGroup(rowGroupRows)}
	for k, val := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, val))
	}
	pw := parquet.NewWriter(w, opts...)
	// Row groups are encoded and compressed in parallel, then committed in
	// order: the file is the same whatever the parallelism.
	const minGroup = 1 << 16
	ngroups := max(1, (len(rows)+rowGroupRows-1)/rowGroupRows)
	if len(rows) >= 2*minGroup {
		ngroups = max(ngroups, min(runtime.GOMAXPROCS(0), len(rows)/minGroup))
	}
	per := (len(rows) + ngroups - 1) / ngroups
	groups := make([]*parquet.ConcurrentRowGroupWriter, 0, ngroups)
	for start := 0; start < len(rows); start += per {
		groups = append(groups, pw.BeginRowGroup())
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, rg := range groups {
		part := rows[i*per : min((i+1)*per, len(rows))]
		g.Go(func() error { return fillRowGroup(rg, v, ci, part) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, rg := range groups {
		if _, err := rg.Commit(); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

func fillRowGroup(rg *parquet.ConcurrentRowGroupWriter, v *View, ci colIndex, rows []Row) error {
	const chunk = 512
	buf := make([]parquet.Row, chunk)
	vals := make([]parquet.Value, chunk*ci.n)
	for i := range buf {
		buf[i] = vals[i*ci.n : (i+1)*ci.n : (i+1)*ci.n]
	}
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		for i := start; i < end; i++ {
			r := &rows[i]
			if len(r.Values) != len(v.Fields) {
				return fmt.Errorf("view %s: row %d has %d values, want %d", v.Name, i, len(r.Values), len(v.Fields))
			}
			pr := buf[i-start]
			pr[ci.key] = parquet.ByteArrayValue(bytesOf(r.Key)).Level(0, 0, ci.key)
			pr[ci.time] = parquet.Int64Value(r.Time).Level(0, 0, ci.time)
			for j, f := range v.Fields {
				col := ci.fields[j]
				val := r.Values[j]
				var pv parquet.Value
				switch {
				case val.Null:
					pr[col] = parquet.NullValue().Level(0, 0, col)
					continue
				case f.Type == Float64:
					pv = parquet.DoubleValue(val.Float)
				case f.Type == String:
					pv = parquet.ByteArrayValue(bytesOf(val.Str))
				default:
					pv = parquet.Int64Value(val.Int)
				}
				pr[col] = pv.Level(0, 1, col)
			}
		}
		if _, err := rg.WriteRows(buf[:end-start]); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
	}
	// Encode and compress the last pages here, in parallel, not in Commit.
	if err := rg.Flush(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// encodeRowsBytes is encodeRows into memory.
func encodeRowsBytes(v *View, rows []Row, meta map[string]string) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeRows(&b, v, rows, meta); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// readColumn streams the values of one column chunk to fn in batches; the
// values (and their byte arrays) are valid only during the call.
func readColumn(cc parquet.ColumnChunk, fn func(vals []parquet.Value)) error {
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 4096)
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r := p.Values()
		for {
			n, err := r.ReadValues(buf)
			if n > 0 {
				fn(buf[:n])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return err
			}
		}
		parquet.Release(p)
	}
}

// appendColumn appends the values of column col (-1: absent, all null) of
// rg to c, for the rows where keep is true (nil keeps all).
func appendColumn(rg parquet.RowGroup, col int, c *Column, keep []bool) error {
	n := int(rg.NumRows())
	if col < 0 {
		for i := 0; i < n; i++ {
			if keep == nil || keep[i] {
				c.appendNull()
			}
		}
		return nil
	}
	i := 0
	err := readColumn(rg.ColumnChunks()[col], func(vals []parquet.Value) {
		for _, v := range vals {
			if keep == nil || keep[i] {
				if v.IsNull() {
					c.appendNull()
				} else {
					switch c.Field.Type {
					case Float64:
						c.Null = append(c.Null, false)
						c.Floats = append(c.Floats, v.Double())
					case String:
						c.Null = append(c.Null, false)
						c.Strs = append(c.Strs, string(v.ByteArray()))
					default:
						c.Null = append(c.Null, false)
						c.Ints = append(c.Ints, v.Int64())
					}
				}
			}
			i++
		}
	})
	if err == nil && i != n {
		err = fmt.Errorf("column %d has %d values, want %d", col, i, n)
	}
	return err
}

func (c *Column) appendNull() {
	c.Null = append(c.Null, true)
	switch c.Field.Type {
	case Float64:
		c.Floats = append(c.Floats, 0)
	case String:
		c.Strs = append(c.Strs, "")
	default:
		c.Ints = append(c.Ints, 0)
	}
}

// readTimes reads the timestamp column of rg.
func readTimes(rg parquet.RowGroup, col int, dst []int64) ([]int64, error) {
	err := readColumn(rg.ColumnChunks()[col], func(vals []parquet.Value) {
		for _, v := range vals {
			dst = append(dst, v.Int64())
		}
	})
	return dst, err
}

var errSchema = errors.New("schema mismatch")
