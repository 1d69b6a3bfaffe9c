package offline

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/recohq/reco"
)

// Entities are the rows of an entity file: the keys and times to join, and
// the timestamp column as written in the file (echoed in CSV output).
type Entities struct {
	Rows    []EntityRow
	RawTime []string // CSV only: the timestamp text of each row
}

// ParseTime parses an entity timestamp: Unix milliseconds (an integer), or
// RFC 3339 (with or without fraction or zone; no zone means UTC), or
// "YYYY-MM-DD[ HH:MM:SS[.fff]]" in UTC.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty timestamp")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("bad timestamp %q (want Unix ms or RFC 3339)", s)
}

// ReadEntitiesCSV reads a CSV file with a header holding keyCol and
// "timestamp" (other columns are ignored). Errors are reco.Invalid and name
// the line.
func ReadEntitiesCSV(r io.Reader, keyCol string) (*Entities, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, reco.Errorf("entities", reco.Invalid, "empty file: want a header with %s and %s", keyCol, TimeColumn)
	}
	if err != nil {
		return nil, reco.E("entities", reco.Invalid, err)
	}
	ki, ti := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case keyCol:
			ki = i
		case TimeColumn:
			ti = i
		}
	}
	if ki < 0 || ti < 0 {
		missing := keyCol
		if ki >= 0 {
			missing = TimeColumn
		}
		return nil, reco.Errorf("entities", reco.Invalid, "missing column %s in the header (have %s)", missing, strings.Join(head, ","))
	}
	out := &Entities{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, reco.E("entities", reco.Invalid, err)
		}
		if ki >= len(rec) || ti >= len(rec) {
			return nil, reco.Errorf("entities", reco.Invalid, "line %d: %d fields, want at least %d", line, len(rec), max(ki, ti)+1)
		}
		key := rec[ki]
		if key == "" {
			return nil, reco.Errorf("entities", reco.Invalid, "line %d: empty %s", line, keyCol)
		}
		t, err := ParseTime(rec[ti])
		if err != nil {
			return nil, reco.Errorf("entities", reco.Invalid, "line %d: %v", line, err)
		}
		out.Rows = append(out.Rows, EntityRow{Key: strings.Clone(key), Time: t})
		out.RawTime = append(out.RawTime, strings.Clone(rec[ti]))
	}
}

// ReadEntitiesParquet reads keyCol (string) and "timestamp" (a TIMESTAMP or
// an integer of Unix ms) from a Parquet file.
func ReadEntitiesParquet(r io.ReaderAt, size int64, keyCol string) (*Entities, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, reco.E("entities", reco.Invalid, err)
	}
	ki, ti := -1, -1
	for i, p := range f.Schema().Columns() {
		if len(p) == 1 && p[0] == keyCol {
			ki = i
		}
		if len(p) == 1 && p[0] == TimeColumn {
			ti = i
		}
	}
	if ki < 0 || ti < 0 {
		missing := keyCol
		if ki >= 0 {
			missing = TimeColumn
		}
		return nil, reco.Errorf("entities", reco.Invalid, "missing column %s", missing)
	}
	out := &Entities{}
	row := 0
	for _, rg := range f.RowGroups() {
		base := len(out.Rows)
		var bad error
		err := readColumn(rg.ColumnChunks()[ki], func(vals []parquet.Value) {
			for _, v := range vals {
				out.Rows = append(out.Rows, EntityRow{Key: string(v.ByteArray())})
			}
		})
		if err != nil {
			return nil, reco.E("entities", reco.Invalid, err)
		}
		i := base
		err = readColumn(rg.ColumnChunks()[ti], func(vals []parquet.Value) {
			for _, v := range vals {
				if v.IsNull() && bad == nil {
					bad = fmt.Errorf("row %d: null %s", row+i-base+1, TimeColumn)
				}
				if i < len(out.Rows) {
					out.Rows[i].Time = v.Int64()
				}
				i++
			}
		})
		if err != nil {
			return nil, reco.E("entities", reco.Invalid, err)
		}
		if bad != nil {
			return nil, reco.E("entities", reco.Invalid, bad)
		}
		row += int(rg.NumRows())
	}
	return out, nil
}

// FormatTime formats Unix ms as RFC 3339 UTC with milliseconds.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// WriteResultCSV writes the entity column, timestamp (as read when ent has
// RawTime, else RFC 3339) and one column per feature; a missing value is
// an empty field.
func WriteResultCSV(w io.Writer, keyCol string, features []string, ent *Entities, res *Result) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	rec := append([]string{keyCol, TimeColumn}, features...)
	if err := cw.Write(rec); err != nil {
		return err
	}
	for i, e := range ent.Rows {
		rec[0] = e.Key
		if ent.RawTime != nil {
			rec[1] = ent.RawTime[i]
		} else {
			rec[1] = FormatTime(e.Time)
		}
		for c := range res.Cols {
			col := &res.Cols[c]
			switch {
			case col.Null[i]:
				rec[2+c] = ""
			case col.Field.Type == Float64:
				rec[2+c] = strconv.FormatFloat(col.Floats[i], 'g', -1, 64)
			case col.Field.Type == String:
				rec[2+c] = col.Strs[i]
			case col.Field.Type == Timestamp:
				rec[2+c] = FormatTime(col.Ints[i])
			default:
				rec[2+c] = strconv.FormatInt(col.Ints[i], 10)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteResultParquet writes the same columns as WriteResultCSV as a ZSTD
// Parquet file (timestamp as TIMESTAMP(MILLIS), features nullable).
func WriteResultParquet(w io.Writer, keyCol string, features []string, ent *Entities, res *Result) error {
	v := &View{Name: "history", Entity: keyCol}
	for c := range res.Cols {
		v.Fields = append(v.Fields, Field{Name: features[c], Type: res.Cols[c].Field.Type})
	}
	rows := make([]Row, len(ent.Rows))
	vals := make([]Value, len(ent.Rows)*len(res.Cols))
	for i, e := range ent.Rows {
		rv := vals[i*len(res.Cols) : (i+1)*len(res.Cols)]
		for c := range res.Cols {
			rv[c] = res.Cols[c].Value(i)
		}
		rows[i] = Row{Key: e.Key, Time: e.Time, Values: rv}
	}
	return encodeRows(w, v, rows, nil)
}
