package feature

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"github.com/recohq/reco/internal/event"
)

// The compact binary forms of User and Product, used where state leaves the
// process (the Redis online store) and must stay small: varints, times as
// deltas, no field names. The first byte is the format version.
const stateCodecVersion = 1

var errState = errors.New("feature: corrupt state encoding")

// AppendUser appends u's encoding to b.
func AppendUser(b []byte, u *User) []byte {
	b = append(b, stateCodecVersion)
	b = appendStr(b, u.ID)
	for _, n := range []int64{u.Total, u.Views, u.Clicks, u.Carts, u.Removes, u.Purchases, u.Reviews, u.Impressions, u.PriceN} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(u.PriceSum))
	b = binary.AppendVarint(b, u.First)
	b = binary.AppendVarint(b, u.Last-u.First)
	b = appendStr(b, u.Session)
	cats := make([]string, 0, len(u.Cats))
	for c := range u.Cats {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	b = binary.AppendUvarint(b, uint64(len(cats)))
	for _, c := range cats {
		s := u.Cats[c]
		b = appendStr(b, c)
		b = binary.AppendUvarint(b, uint64(s.Count))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(s.Affinity.V)))
		b = binary.AppendVarint(b, s.Affinity.T-u.Last)
	}
	// Product ids repeat (a view, a click and a purchase of one item): a
	// table of distinct ids, referenced by index, keeps the value small.
	bought := make([]string, 0, len(u.Bought))
	for p := range u.Bought {
		bought = append(bought, p)
	}
	slices.Sort(bought)
	var table []string
	index := make(map[string]int, len(u.Recent)+len(bought))
	ref := func(s string) int {
		i, ok := index[s]
		if !ok {
			i = len(table)
			index[s] = i
			table = append(table, s)
		}
		return i
	}
	for _, r := range u.Recent {
		ref(r.Product)
	}
	for _, p := range bought {
		ref(p)
	}
	b = binary.AppendUvarint(b, uint64(len(table)))
	for _, s := range table {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(u.Recent)))
	for _, r := range u.Recent {
		b = binary.AppendUvarint(b, uint64(index[r.Product]))
		b = append(b, byte(r.Type))
		b = binary.AppendVarint(b, u.Last-r.Time)
		if r.Session == u.Session {
			b = append(b, 0) // the common case costs one byte
		} else {
			b = append(b, 1)
			b = appendStr(b, r.Session)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(bought)))
	for _, p := range bought {
		b = binary.AppendUvarint(b, uint64(index[p]))
		b = binary.AppendUvarint(b, uint64(u.Bought[p]))
	}
	return b
}

// DecodeUser decodes a user encoded by AppendUser.
func DecodeUser(data []byte) (*User, error) {
	d := dec{b: data}
	if d.byte() != stateCodecVersion {
		return nil, errState
	}
	u := &User{ID: d.str()}
	for _, p := range []*int64{&u.Total, &u.Views, &u.Clicks, &u.Carts, &u.Removes, &u.Purchases, &u.Reviews, &u.Impressions, &u.PriceN} {
		*p = int64(d.uvarint())
	}
	u.PriceSum = math.Float64frombits(d.u64())
	u.First = d.varint()
	u.Last = u.First + d.varint()
	u.Session = d.str()
	if n := d.count(); n > 0 {
		u.Cats = make(map[string]*CatStat, n)
		for i := 0; i < n && d.err == nil; i++ {
			c := d.str()
			s := &CatStat{Count: int64(d.uvarint())}
			s.Affinity.V = float64(math.Float32frombits(d.u32()))
			s.Affinity.T = u.Last + d.varint()
			u.Cats[c] = s
		}
	}
	table := make([]string, d.count())
	for i := range table {
		table[i] = d.str()
	}
	at := func() string {
		i := d.uvarint()
		if i >= uint64(len(table)) {
			d.fail()
			return ""
		}
		return table[i]
	}
	if n := d.count(); n > 0 {
		u.Recent = make([]Recent, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r := Recent{Product: at(), Type: event.Type(d.byte())}
			r.Time = u.Last - d.varint()
			if d.byte() == 0 {
				r.Session = u.Session
			} else {
				r.Session = d.str()
			}
			u.Recent = append(u.Recent, r)
		}
	}
	if n := d.count(); n > 0 {
		u.Bought = make(map[string]int32, n)
		for i := 0; i < n && d.err == nil; i++ {
			p := at()
			u.Bought[p] = int32(d.uvarint())
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return u, nil
}

// AppendProduct appends p's encoding to b.
func AppendProduct(b []byte, p *Product) []byte {
	b = append(b, stateCodecVersion)
	for _, s := range []string{p.ID, p.Category, p.Name} {
		b = appendStr(b, s)
	}
	var flags byte
	for i, f := range []bool{p.Promoted, p.Available, p.InCatalog} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Price))
	b = binary.AppendVarint(b, p.Inventory)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Margin))
	for _, n := range []int64{p.Views, p.Clicks, p.Carts, p.Purchases, p.Reviews, p.RatingSum, p.Impressions} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	for _, d := range []Decayed{p.Popularity, p.Trend} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.V))
		b = binary.AppendVarint(b, d.T)
	}
	b = binary.AppendVarint(b, p.Updated)
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, p.Attributes[k])
	}
	return b
}

// DecodeProduct decodes a product encoded by AppendProduct.
func DecodeProduct(data []byte) (*Product, error) {
	d := dec{b: data}
	if d.byte() != stateCodecVersion {
		return nil, errState
	}
	p := &Product{ID: d.str(), Category: d.str(), Name: d.str()}
	flags := d.byte()
	p.Promoted, p.Available, p.InCatalog = flags&1 != 0, flags&2 != 0, flags&4 != 0
	p.Price = math.Float64frombits(d.u64())
	p.Inventory = d.varint()
	p.Margin = math.Float64frombits(d.u64())
	for _, n := range []*int64{&p.Views, &p.Clicks, &p.Carts, &p.Purchases, &p.Reviews, &p.RatingSum, &p.Impressions} {
		*n = int64(d.uvarint())
	}
	for _, dd := range []*Decayed{&p.Popularity, &p.Trend} {
		dd.V = math.Float64frombits(d.u64())
		dd.T = d.varint()
	}
	p.Updated = d.varint()
	if n := d.count(); n > 0 {
		p.Attributes = make(map[string]string, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.str()
			p.Attributes[k] = d.str()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errState
	}
	d.b = nil
}

func (d *dec) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left.
func (d *dec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) u32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
