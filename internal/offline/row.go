package offline

import (
	"time"
)

// Value is one feature value. Null marks a missing value; otherwise Int
// holds Int64 and Timestamp fields, Float holds Float64, Str holds String.
type Value struct {
	Null  bool
	Int   int64
	Float float64
	Str   string
}

// Int returns an Int64 or Timestamp value.
func Int(v int64) Value { return Value{Int: v} }

// Float returns a Float64 value.
func Float(v float64) Value { return Value{Float: v} }

// Str returns a String value.
func Str(v string) Value { return Value{Str: v} }

// Null is the missing value.
var Null = Value{Null: true}

// Row is one feature row of a view: the entity key, the event-time
// timestamp (Unix ms) and one value per field of the view, in its order.
type Row struct {
	Key    string
	Time   int64
	Values []Value
}

// Column is one feature column in columnar form. Ints holds Int64 and
// Timestamp columns, Floats Float64, Strs String; only the slice of the
// column's type is set. Null[i] marks a missing value.
type Column struct {
	Field  Field
	Null   []bool
	Ints   []int64
	Floats []float64
	Strs   []string
}

// Len is the number of values.
func (c *Column) Len() int { return len(c.Null) }

// Value returns the i-th value.
func (c *Column) Value(i int) Value {
	if c.Null[i] {
		return Null
	}
	switch c.Field.Type {
	case Float64:
		return Value{Float: c.Floats[i]}
	case String:
		return Value{Str: c.Strs[i]}
	}
	return Value{Int: c.Ints[i]}
}

func newColumn(f Field, n int) Column {
	c := Column{Field: f, Null: make([]bool, n)}
	switch f.Type {
	case Float64:
		c.Floats = make([]float64, n)
	case String:
		c.Strs = make([]string, n)
	default:
		c.Ints = make([]int64, n)
	}
	return c
}

func (c *Column) set(i int, v Value) {
	c.Null[i] = v.Null
	if v.Null {
		return
	}
	switch c.Field.Type {
	case Float64:
		c.Floats[i] = v.Float
	case String:
		c.Strs[i] = v.Str
	default:
		c.Ints[i] = v.Int
	}
}

// Table is rows of one view in columnar form.
type Table struct {
	Keys  []string
	Times []int64
	Cols  []Column // the requested fields, in the requested order
}

// Len is the number of rows.
func (t *Table) Len() int { return len(t.Times) }

// Row returns row i with every column of t.
func (t *Table) Row(i int) Row {
	r := Row{Key: t.Keys[i], Time: t.Times[i], Values: make([]Value, len(t.Cols))}
	for j := range t.Cols {
		r.Values[j] = t.Cols[j].Value(i)
	}
	return r
}

// dateOf is the UTC date partition of a Unix ms time.
func dateOf(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.DateOnly)
}
