package feature

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/recohq/reco/internal/event"

	"github.com/recohq/reco/internal/wire"
)

// The compact binary forms of User and Product, used where state leaves the
// process (checkpoints, the Redis online store) and must stay small:
// varints, times as deltas, no field names. The first byte is the format.
const stateCodecVersion = 2 // products; users before userFormat (still decoded)

// User formats (the first byte of AppendUser's and AppendUserCompact's
// output). DecodeUser reads them and stateCodecVersion's.
const (
	userFormat        = 3 // exact, with the id: checkpoints
	userFormatCompact = 4 // no id, float32 affinities: the online store
)

var errState = errors.New("feature: corrupt state encoding")

// userScratch is AppendUser's reusable memory: a checkpoint encodes every
// user, and fresh maps and slices per user were most of its cost.
type userScratch struct {
	cats, bought, table []string
	index               map[string]int
}

var scratchPool = sync.Pool{New: func() any { return &userScratch{index: map[string]int{}} }}

// AppendUser appends u's exact encoding to b (what a checkpoint holds).
// Safe for concurrent use.
func AppendUser(b []byte, u *User) []byte { return appendUser(b, u, false) }

// AppendUserCompact appends the smaller encoding an online store keeps,
// which holds the id in its key: without u.ID (DecodeUser returns an empty
// ID) and with category affinities rounded to float32. Everything else is
// exact. Safe for concurrent use.
func AppendUserCompact(b []byte, u *User) []byte { return appendUser(b, u, true) }

// Flags of a recent item's header byte. The low three bits are its type
// (7: the type follows in a byte of its own).
const (
	recentTypeMask    = 7
	recentSameProduct = 1 << 3 // the product of the entry before (newer)
	recentNextProduct = 2 << 3 // the next product of the table not used yet
	recentProductMask = 3 << 3 // neither: its table index follows
	recentNewSession  = 1 << 5 // a session other than the entry before's follows
	recentSeconds     = 1 << 6 // the time delta is in seconds
	recentLater       = 1 << 7 // the item is newer than the entry before
)

// The user encoding (userFormat, userFormatCompact): the format byte; the
// id (userFormat only); the counters; PriceSum (appendNumber); First and
// Last-First (appendMillis); the session; the categories in name order,
// names front-coded (appendFront), each with its count, affinity (float64,
// or float32 when compact) and Last-T; the table of distinct product ids
// (front-coded, in the order the recent items and then the purchases use
// them); the recent items, newest first, each a header byte and only what
// differs from the entry before (a view, a click and a cart of one product
// in one session, seconds apart, cost two bytes each); the purchases.
func appendUser(b []byte, u *User, compact bool) []byte {
	sc := scratchPool.Get().(*userScratch)
	defer func() {
		clear(sc.index)
		clear(sc.cats)
		clear(sc.bought)
		clear(sc.table)
		scratchPool.Put(sc)
	}()
	if compact {
		b = append(b, userFormatCompact)
	} else {
		b = append(b, userFormat)
		b = wire.AppendString(b, u.ID)
	}
	for _, n := range []int64{u.Total, u.Views, u.Clicks, u.Carts, u.Removes, u.Purchases, u.Reviews, u.Impressions, u.PriceN} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = appendNumber(b, u.PriceSum)
	b = appendMillis(b, u.First)
	b = appendMillis(b, u.Last-u.First)
	b = wire.AppendString(b, u.Session)
	cats := sc.cats[:0]
	for c := range u.Cats {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	sc.cats = cats
	b = binary.AppendUvarint(b, uint64(len(cats)))
	prev := ""
	for _, c := range cats {
		s := u.Cats[c]
		b = appendFront(b, prev, c)
		prev = c
		b = binary.AppendUvarint(b, uint64(s.Count))
		if compact {
			b = wire.AppendFloat32(b, float32(s.Affinity.V))
		} else {
			b = wire.AppendFloat64(b, s.Affinity.V) // exact: replays from a checkpoint must not drift
		}
		b = appendMillis(b, u.Last-s.Affinity.T)
	}
	// Product ids repeat (a view, a click and a purchase of one item): a
	// table of distinct ids, in the order the entries below first use them.
	bought := sc.bought[:0]
	for p := range u.Bought {
		bought = append(bought, p)
	}
	slices.Sort(bought)
	sc.bought = bought
	table := sc.table[:0]
	index := sc.index
	ref := func(s string) {
		if _, ok := index[s]; !ok {
			index[s] = len(table)
			table = append(table, s)
		}
	}
	for i := len(u.Recent) - 1; i >= 0; i-- {
		ref(u.Recent[i].Product)
	}
	for _, p := range bought {
		ref(p)
	}
	sc.table = table
	b = binary.AppendUvarint(b, uint64(len(table)))
	prev = ""
	for _, s := range table {
		b = appendFront(b, prev, s)
		prev = s
	}
	b = binary.AppendUvarint(b, uint64(len(u.Recent)))
	prevTime, prevSession, prevProduct, next := u.Last, u.Session, -1, 0
	for i := len(u.Recent) - 1; i >= 0; i-- {
		r := &u.Recent[i]
		var h byte
		if r.Type < recentTypeMask {
			h = byte(r.Type)
		} else {
			h = recentTypeMask
		}
		idx := index[r.Product]
		switch idx {
		case prevProduct:
			h |= recentSameProduct
		case next:
			h |= recentNextProduct
			next++
		default:
			h |= recentProductMask
		}
		if r.Session != prevSession {
			h |= recentNewSession
		}
		d := prevTime - r.Time
		mag := uint64(d)
		if d < 0 {
			h |= recentLater
			mag = uint64(-d) // 1<<63 for math.MinInt64, as wanted
		}
		if mag%1000 == 0 {
			h |= recentSeconds
			mag /= 1000
		}
		b = append(b, h)
		if r.Type >= recentTypeMask {
			b = append(b, byte(r.Type))
		}
		if h&recentProductMask == recentProductMask {
			b = binary.AppendUvarint(b, uint64(idx))
		}
		if r.Session != prevSession {
			b = appendFront(b, prevSession, r.Session)
		}
		b = binary.AppendUvarint(b, mag)
		prevTime, prevSession, prevProduct = r.Time, r.Session, idx
	}
	b = binary.AppendUvarint(b, uint64(len(bought)))
	for _, p := range bought {
		b = binary.AppendUvarint(b, uint64(index[p]))
		b = binary.AppendVarint(b, int64(u.Bought[p]))
	}
	return b
}

// DecodeUser decodes a user encoded by AppendUser or AppendUserCompact (the
// latter with an empty ID, which the caller fills from its key), or by the
// previous format (stateCodecVersion), which old checkpoints hold.
func DecodeUser(data []byte) (*User, error) {
	d := wire.NewReader(data)
	switch d.Byte() {
	case userFormat:
		return decodeUser(d, false)
	case userFormatCompact:
		return decodeUser(d, true)
	case stateCodecVersion:
		return decodeUserV2(d)
	}
	return nil, errState
}

func decodeUser(d *wire.Reader, compact bool) (*User, error) {
	u := &User{}
	if !compact {
		u.ID = d.String()
	}
	for _, p := range []*int64{&u.Total, &u.Views, &u.Clicks, &u.Carts, &u.Removes, &u.Purchases, &u.Reviews, &u.Impressions, &u.PriceN} {
		*p = int64(d.Uvarint())
	}
	u.PriceSum = readNumber(d)
	u.First = readMillis(d)
	u.Last = u.First + readMillis(d)
	u.Session = d.String()
	if n := d.Count(); n > 0 {
		u.Cats = make(map[string]*CatStat, n)
		prev := ""
		for i := 0; i < n && d.Err() == nil; i++ {
			c := readFront(d, prev)
			prev = c
			s := &CatStat{Count: int64(d.Uvarint())}
			if compact {
				s.Affinity.V = float64(d.Float32())
			} else {
				s.Affinity.V = d.Float64()
			}
			s.Affinity.T = u.Last - readMillis(d)
			u.Cats[c] = s
		}
	}
	table := make([]string, d.Count())
	prev := ""
	for i := range table {
		table[i] = readFront(d, prev)
		prev = table[i]
	}
	if n := d.Count(); n > 0 {
		u.Recent = make([]Recent, n)
		prevTime, prevSession, prevProduct, next := u.Last, u.Session, -1, 0
		for i := n - 1; i >= 0 && d.Err() == nil; i-- {
			h := d.Byte()
			r := &u.Recent[i]
			r.Type = event.Type(h & recentTypeMask)
			if r.Type == recentTypeMask {
				r.Type = event.Type(d.Byte())
			}
			idx := -1
			switch h & recentProductMask {
			case recentSameProduct:
				idx = prevProduct
			case recentNextProduct:
				idx = next
				next++
			case recentProductMask:
				idx = int(min(d.Uvarint(), uint64(len(table))))
			}
			if idx < 0 || idx >= len(table) {
				d.Fail()
				break
			}
			r.Product = table[idx]
			r.Session = prevSession
			if h&recentNewSession != 0 {
				r.Session = readFront(d, prevSession)
			}
			mag := d.Uvarint()
			if h&recentSeconds != 0 {
				mag *= 1000
			}
			if h&recentLater != 0 {
				r.Time = prevTime + int64(mag)
			} else {
				r.Time = prevTime - int64(mag)
			}
			prevTime, prevSession, prevProduct = r.Time, r.Session, idx
		}
	}
	if n := d.Count(); n > 0 {
		u.Bought = make(map[string]int32, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			j := d.Uvarint()
			if j >= uint64(len(table)) {
				d.Fail()
				break
			}
			u.Bought[table[j]] = int32(d.Varint())
		}
	}
	if d.Err() != nil {
		return nil, errState
	}
	return u, nil
}

// decodeUserV2 decodes the previous user format (after its version byte).
func decodeUserV2(d *wire.Reader) (*User, error) {
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

// appendFront appends s front-coded against prev: the length of their
// common prefix, then the rest of s, as a number when it is one (product
// ids like "prod-000874" after "prod-000861" cost two bytes, "2268318"
// four).
func appendFront(b []byte, prev, s string) []byte {
	k := 0
	for k < len(prev) && k < len(s) && prev[k] == s[k] {
		k++
	}
	if n, ok := decimal(s[k:]); ok {
		b = binary.AppendUvarint(b, uint64(k)<<1|1)
		return binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, uint64(k)<<1)
	return wire.AppendString(b, s[k:])
}

func readFront(d *wire.Reader, prev string) string {
	h := d.Uvarint()
	k := h >> 1
	if k > uint64(len(prev)) {
		d.Fail()
		return ""
	}
	if h&1 == 1 {
		n := d.Uvarint()
		if d.Err() != nil {
			return ""
		}
		return string(strconv.AppendUint([]byte(prev[:k]), n, 10))
	}
	s := d.String()
	if k == 0 || d.Err() != nil {
		return s
	}
	return prev[:k] + s
}

// decimal parses s as a canonical decimal number: digits only, no leading
// zero, at most 19 digits.
func decimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// appendMillis appends a signed number of milliseconds; whole seconds
// (what most event times are) cost less. The token is zigzag(s)<<1|1 for s
// seconds, zigzag(ms)<<1 otherwise, and 0 then 8 bytes when that does not
// fit.
func appendMillis(b []byte, ms int64) []byte {
	if ms%1000 == 0 {
		return binary.AppendUvarint(b, zigzag(ms/1000)<<1|1)
	}
	if z := zigzag(ms); z < 1<<63 {
		return binary.AppendUvarint(b, z<<1)
	}
	b = append(b, 0)
	return binary.LittleEndian.AppendUint64(b, uint64(ms))
}

func readMillis(d *wire.Reader) int64 {
	t := d.Uvarint()
	switch {
	case t&1 == 1:
		return unzigzag(t>>1) * 1000
	case t == 0:
		return int64(d.Uint64())
	}
	return unzigzag(t >> 1)
}

// appendNumber appends f exactly, in fewer than 8 bytes when it is a whole
// number or a whole number of hundredths (sums of prices): the low two bits
// of a uvarint token say which, 2 and 3 being a float64 or float32 that
// follows.
func appendNumber(b []byte, f float64) []byte {
	const exact = 1 << 53
	if f != 0 || !math.Signbit(f) {
		if f == math.Trunc(f) && math.Abs(f) < exact {
			return binary.AppendUvarint(b, zigzag(int64(f))<<2)
		}
		if c := math.Round(f * 100); math.Abs(c) < exact && c/100 == f {
			return binary.AppendUvarint(b, zigzag(int64(c))<<2|1)
		}
	}
	if float64(float32(f)) == f {
		b = append(b, 3)
		return wire.AppendFloat32(b, float32(f))
	}
	b = append(b, 2)
	return wire.AppendFloat64(b, f)
}

func readNumber(d *wire.Reader) float64 {
	t := d.Uvarint()
	switch t {
	case 2:
		return d.Float64()
	case 3:
		return float64(d.Float32())
	}
	switch t & 3 {
	case 0:
		return float64(unzigzag(t >> 2))
	case 1:
		return float64(unzigzag(t>>2)) / 100
	}
	d.Fail()
	return 0
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
