package feature

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"

	"github.com/recohq/reco/internal/event"

	"github.com/recohq/reco/internal/wire"
)

// The compact binary forms of User and Product, used where state leaves the
// process (the Redis online store) and must stay small: varints, times as
// deltas, no field names. The first byte is the format version.
const stateCodecVersion = 2

var errState = errors.New("feature: corrupt state encoding")

// userScratch is AppendUser's reusable memory: a checkpoint encodes every
// user, and fresh maps and slices per user were most of its cost.
type userScratch struct {
	cats, bought, table []string
	index               map[string]int
}

var scratchPool = sync.Pool{New: func() any { return &userScratch{index: map[string]int{}} }}

// AppendUser appends u's encoding to b. Safe for concurrent use.
func AppendUser(b []byte, u *User) []byte {
	sc := scratchPool.Get().(*userScratch)
	defer func() {
		clear(sc.index)
		clear(sc.cats)
		clear(sc.bought)
		clear(sc.table)
		scratchPool.Put(sc)
	}()
	b = append(b, stateCodecVersion)
	b = wire.AppendString(b, u.ID)
	for _, n := range []int64{u.Total, u.Views, u.Clicks, u.Carts, u.Removes, u.Purchases, u.Reviews, u.Impressions, u.PriceN} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = wire.AppendFloat64(b, (u.PriceSum))
	b = binary.AppendVarint(b, u.First)
	b = binary.AppendVarint(b, u.Last-u.First)
	b = wire.AppendString(b, u.Session)
	cats := sc.cats[:0]
	for c := range u.Cats {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	b = binary.AppendUvarint(b, uint64(len(cats)))
	for _, c := range cats {
		s := u.Cats[c]
		b = wire.AppendString(b, c)
		b = binary.AppendUvarint(b, uint64(s.Count))
		b = wire.AppendFloat64(b, s.Affinity.V) // exact: checkpoints use this encoding too
		b = binary.AppendVarint(b, s.Affinity.T-u.Last)
	}
	// Product ids repeat (a view, a click and a purchase of one item): a
	// table of distinct ids, referenced by index, keeps the value small.
	sc.cats = cats
	bought := sc.bought[:0]
	for p := range u.Bought {
		bought = append(bought, p)
	}
	slices.Sort(bought)
	sc.bought = bought
	table := sc.table[:0]
	index := sc.index
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
	sc.table = table
	b = binary.AppendUvarint(b, uint64(len(table)))
	for _, s := range table {
		b = wire.AppendString(b, s)
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
			b = wire.AppendString(b, r.Session)
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
	d := wire.NewReader(data)
	if d.Byte() != stateCodecVersion {
		return nil, errState
	}
	u := &User{ID: d.String()}
	for _, p := range []*int64{&u.Total, &u.Views, &u.Clicks, &u.Carts, &u.Removes, &u.Purchases, &u.Reviews, &u.Impressions, &u.PriceN} {
		*p = int64(d.Uvarint())
	}
	u.PriceSum = d.Float64()
	u.First = d.Varint()
	u.Last = u.First + d.Varint()
	u.Session = d.String()
	if n := d.Count(); n > 0 {
		u.Cats = make(map[string]*CatStat, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			c := d.String()
			s := &CatStat{Count: int64(d.Uvarint())}
			s.Affinity.V = d.Float64()
			s.Affinity.T = u.Last + d.Varint()
			u.Cats[c] = s
		}
	}
	table := make([]string, d.Count())
	for i := range table {
		table[i] = d.String()
	}
	at := func() string {
		i := d.Uvarint()
		if i >= uint64(len(table)) {
			d.Fail()
			return ""
		}
		return table[i]
	}
	if n := d.Count(); n > 0 {
		u.Recent = make([]Recent, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			r := Recent{Product: at(), Type: event.Type(d.Byte())}
			r.Time = u.Last - d.Varint()
			if d.Byte() == 0 {
				r.Session = u.Session
			} else {
				r.Session = d.String()
			}
			u.Recent = append(u.Recent, r)
		}
	}
	if n := d.Count(); n > 0 {
		u.Bought = make(map[string]int32, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			p := at()
			u.Bought[p] = int32(d.Uvarint())
		}
	}
	if d.Err() != nil {
		return nil, errState
	}
	return u, nil
}

// AppendProduct appends p's encoding to b.
func AppendProduct(b []byte, p *Product) []byte {
	b = append(b, stateCodecVersion)
	for _, s := range []string{p.ID, p.Category, p.Name} {
		b = wire.AppendString(b, s)
	}
	var flags byte
	for i, f := range []bool{p.Promoted, p.Available, p.InCatalog} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = wire.AppendFloat64(b, (p.Price))
	b = binary.AppendVarint(b, p.Inventory)
	b = wire.AppendFloat64(b, (p.Margin))
	for _, n := range []int64{p.Views, p.Clicks, p.Carts, p.Purchases, p.Reviews, p.RatingSum, p.Impressions} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	for _, d := range []Decayed{p.Popularity, p.Trend} {
		b = wire.AppendFloat64(b, (d.V))
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
		b = wire.AppendString(b, k)
		b = wire.AppendString(b, p.Attributes[k])
	}
	return b
}

// DecodeProduct decodes a product encoded by AppendProduct.
func DecodeProduct(data []byte) (*Product, error) {
	d := wire.NewReader(data)
	if d.Byte() != stateCodecVersion {
		return nil, errState
	}
	p := &Product{ID: d.String(), Category: d.String(), Name: d.String()}
	flags := d.Byte()
	p.Promoted, p.Available, p.InCatalog = flags&1 != 0, flags&2 != 0, flags&4 != 0
	p.Price = d.Float64()
	p.Inventory = d.Varint()
	p.Margin = d.Float64()
	for _, n := range []*int64{&p.Views, &p.Clicks, &p.Carts, &p.Purchases, &p.Reviews, &p.RatingSum, &p.Impressions} {
		*n = int64(d.Uvarint())
	}
	for _, dd := range []*Decayed{&p.Popularity, &p.Trend} {
		dd.V = d.Float64()
		dd.T = d.Varint()
	}
	p.Updated = d.Varint()
	if n := d.Count(); n > 0 {
		p.Attributes = make(map[string]string, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			k := d.String()
			p.Attributes[k] = d.String()
		}
	}
	if d.Err() != nil {
		return nil, errState
	}
	return p, nil
}
