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

// dictMaxBytes bounds the dictionary of a dictionary-encoded column chunk:
// past it, the rest of the chunk is written PLAIN, so a column that turns
// out to have many distinct values costs little more than a PLAIN one.
const dictMaxBytes = 256 << 10

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

// The column encodings of a view file. With every column PLAIN, ZSTD took
// about 40% of a write's CPU; these encodings leave it little to do:
//   - the entity column: DELTA_LENGTH_BYTE_ARRAY (parquet-go's default);
//     a dictionary cost more CPU than it saved (benchmark: 10 rows a key);
//   - the timestamp: RLE_DICTIONARY, as rows carry window ends or snapshot
//     times (a few hundred values a day);
//   - Int64 and Timestamp features: DELTA_BINARY_PACKED (bit-packed
//     differences): a few bits for counts, and rarely more than PLAIN;
//   - Float64 and String features: RLE_DICTIONARY up to dictMaxBytes.
//
// All are standard Parquet encodings (DuckDB reads these files too).
func fieldNode(t Type) parquet.Node {
	switch t {
	case Float64, String:
		return parquet.Encoded(leafNode(t), &parquet.RLEDictionary)
	}
	return parquet.Encoded(leafNode(t), &parquet.DeltaBinaryPacked)
}

func viewSchema(v *View) *parquet.Schema {
	g := parquet.Group{
		v.Entity:   parquet.String(),
		TimeColumn: parquet.Encoded(parquet.Timestamp(parquet.Millisecond), &parquet.RLEDictionary),
	}
	for _, f := range v.Fields {
		g[f.Name] = parquet.Optional(fieldNode(f.Type))
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
//
// The rows are cut into row groups of equal size (up to maxGroups of at
// least minGroupRows rows, more if rowGroupRows demands it), encoded and
// compressed in parallel, GOMAXPROCS at a time, and committed in order. The
// cut depends only on the number of rows, so the file does not depend on
// the machine.
func encodeRows(w io.Writer, v *View, rows []Row, meta map[string]string) error {
	for i := range rows {
		if len(rows[i].Values) != len(v.Fields) {
			return fmt.Errorf("view %s: row %d has %d values, want %d", v.Name, i, len(rows[i].Values), len(v.Fields))
		}
	}
	schema := viewSchema(v)
	ci, err := indexOf(schema, v)
	if err != nil {
		return err
	}
	opts := []parquet.WriterOption{schema, parquet.Compression(fastZstd), parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.DictionaryMaxBytes(dictMaxBytes)}
	for k, val := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, val))
	}
	buf, inMemory := w.(*bytes.Buffer)
	if inMemory {
		opts = append(opts, parquet.WriteBufferSize(0)) // no copy through a bufio.Writer
	}
	pw := parquet.NewGenericWriter[any](w, opts...)
	ngroups := max(1, (len(rows)+rowGroupRows-1)/rowGroupRows, min(maxGroups, len(rows)/minGroupRows))
	per := (len(rows) + ngroups - 1) / ngroups
	var groups []*parquet.ConcurrentRowGroupWriter
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for start := 0; start < len(rows); start += per {
		part := rows[start:min(start+per, len(rows))]
		rg := pw.BeginRowGroup()
		groups = append(groups, rg)
		g.Go(func() error { return writeRowGroup(rg, v, ci, part) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	if inMemory {
		// The pages are compressed now: grow once, not by doubling.
		size := int64(64 << 10) // the footer
		for _, rg := range groups {
			size += rg.Size()
		}
		buf.Grow(int(size))
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

// A batch is cut into up to maxGroups row groups of at least minGroupRows
// rows, so that up to maxGroups cores share its encoding and compression.
const (
	maxGroups    = 8
	minGroupRows = 1 << 16
)

// chunkRows is how many rows writeRowGroup converts at a time; a page ends
// only between chunks.
const chunkRows = 1024

// writeRowGroup writes rows into rg. It converts a chunk of rows at a time,
// row by row (each row's values are read once, in order, however they lie
// in memory), into one slice of values per column, then hands each slice to
// its column writer. It encodes and compresses the last pages too, so that
// Commit only copies bytes.
func writeRowGroup(rg *parquet.ConcurrentRowGroupWriter, v *View, ci colIndex, rows []Row) error {
	cws := rg.ColumnWriters()
	vals := make([]parquet.Value, chunkRows*ci.n)
	col := func(c int) []parquet.Value { return vals[c*chunkRows : (c+1)*chunkRows : (c+1)*chunkRows] }
	keys, times := col(ci.key), col(ci.time)
	fields := make([][]parquet.Value, len(v.Fields))
	types := make([]Type, len(v.Fields))
	for j, f := range v.Fields {
		fields[j], types[j] = col(ci.fields[j]), f.Type
	}
	for start := 0; start < len(rows); start += chunkRows {
		part := rows[start:min(start+chunkRows, len(rows))]
		for i := range part {
			r := &part[i]
			keys[i] = parquet.ByteArrayValue(bytesOf(r.Key))
			times[i] = parquet.Int64Value(r.Time)
			for j, val := range r.Values[:len(fields)] {
				pv := &fields[j][i]
				switch {
				case val.Null:
					*pv = parquet.NullValue() // definition level 0
					continue
				case types[j] == Float64:
					*pv = parquet.DoubleValue(val.Float)
				case types[j] == String:
					*pv = parquet.ByteArrayValue(bytesOf(val.Str))
				default:
					*pv = parquet.Int64Value(val.Int)
				}
				pv.SetDefinitionLevel(1)
			}
		}
		for c, cw := range cws {
			if _, err := cw.WriteRowValues(col(c)[:len(part)]); err != nil {
				return err
			}
		}
	}
	return rg.Flush()
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
