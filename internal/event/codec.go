package event

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
)

// The log encoding is hand-written rather than JSON or gob: the stream
// processor decodes every record on its hot path (hundreds of thousands a
// second), so the format is varints and length-prefixed strings with no
// reflection. The first byte is the format version, the second the Kind.
const codecVersion = 1

var errShort = errors.New("event: truncated record")

// AppendEvent appends the log encoding of e to b.
func AppendEvent(b []byte, e *Event) []byte {
	b = append(b, codecVersion, byte(KindEvent), byte(e.Type))
	b = appendString(b, e.UserID)
	b = appendString(b, e.ProductID)
	b = appendString(b, e.SessionID)
	b = appendString(b, e.Category)
	b = appendFloat(b, e.Price)
	b = binary.AppendUvarint(b, uint64(e.Quantity))
	b = append(b, byte(e.Rating))
	b = binary.AppendVarint(b, e.Time)
	b = appendString(b, e.RequestID)
	b = binary.AppendVarint(b, e.Ingested)
	b = appendString(b, e.SourceKey)
	return b
}

// AppendProduct appends the log encoding of p to b.
func AppendProduct(b []byte, p *Product) []byte {
	b = append(b, codecVersion, byte(KindProduct))
	var flags byte
	for i, f := range []bool{p.HasPrice, p.HasInventory, p.HasMargin, p.HasPromoted, p.HasAvailable, p.Promoted, p.Available} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = appendString(b, p.ID)
	b = appendString(b, p.Category)
	b = appendString(b, p.Name)
	b = appendFloat(b, p.Price)
	b = binary.AppendVarint(b, p.Inventory)
	b = appendFloat(b, p.Margin)
	b = binary.AppendVarint(b, p.Time)
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, p.Attributes[k])
	}
	return b
}

// AppendImpression appends the log encoding of im to b.
func AppendImpression(b []byte, im *Impression) []byte {
	b = append(b, codecVersion, byte(KindImpression))
	for _, s := range []string{im.RequestID, im.UserID, im.SessionID, im.ModelVersion, im.Experiment, im.Variant, im.Fallback} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, im.Time)
	b = binary.AppendUvarint(b, uint64(len(im.FeatureNames)))
	for _, n := range im.FeatureNames {
		b = appendString(b, n)
	}
	b = binary.AppendUvarint(b, uint64(len(im.Items)))
	for i := range im.Items {
		it := &im.Items[i]
		b = appendString(b, it.ProductID)
		b = appendString(b, it.Source)
		b = binary.AppendUvarint(b, uint64(it.Position))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(it.Score))
		b = binary.AppendUvarint(b, uint64(len(it.Features)))
		for _, f := range it.Features {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return b
}

// Decode decodes a log record into r, reusing r's memory where it can.
// Strings are copied, so r does not alias data.
func Decode(data []byte, r *Record) error {
	d := decoder{b: data}
	if d.byte() != codecVersion {
		return errors.New("event: unknown record version")
	}
	r.Kind = Kind(d.byte())
	switch r.Kind {
	case KindEvent:
		e := &r.Event
		e.Type = Type(d.byte())
		e.UserID = d.string()
		e.ProductID = d.string()
		e.SessionID = d.string()
		e.Category = d.string()
		e.Price = d.float()
		e.Quantity = int32(d.uvarint())
		e.Rating = int8(d.byte())
		e.Time = d.varint()
		e.RequestID = d.string()
		e.Ingested = d.varint()
		e.SourceKey = d.string()
	case KindProduct:
		p := &r.Product
		flags := d.byte()
		p.HasPrice, p.HasInventory, p.HasMargin = flags&1 != 0, flags&2 != 0, flags&4 != 0
		p.HasPromoted, p.HasAvailable, p.Promoted, p.Available = flags&8 != 0, flags&16 != 0, flags&32 != 0, flags&64 != 0
		p.ID = d.string()
		p.Category = d.string()
		p.Name = d.string()
		p.Price = d.float()
		p.Inventory = d.varint()
		p.Margin = d.float()
		p.Time = d.varint()
		n := d.uvarint()
		p.Attributes = nil
		if n > uint64(len(data)) {
			return errShort
		}
		if n > 0 {
			p.Attributes = make(map[string]string, n)
			for i := uint64(0); i < n && d.err == nil; i++ {
				k := d.string()
				p.Attributes[k] = d.string()
			}
		}
	case KindImpression:
		im := &r.Impression
		for _, s := range []*string{&im.RequestID, &im.UserID, &im.SessionID, &im.ModelVersion, &im.Experiment, &im.Variant, &im.Fallback} {
			*s = d.string()
		}
		im.Time = d.varint()
		nf := d.uvarint()
		if nf > uint64(len(data)) {
			return errShort
		}
		im.FeatureNames = im.FeatureNames[:0]
		for i := uint64(0); i < nf && d.err == nil; i++ {
			im.FeatureNames = append(im.FeatureNames, d.string())
		}
		n := d.uvarint()
		if n > uint64(len(data)) {
			return errShort
		}
		im.Items = im.Items[:0]
		for i := uint64(0); i < n && d.err == nil; i++ {
			var it ImpressionItem
			it.ProductID = d.string()
			it.Source = d.string()
			it.Position = int32(d.uvarint())
			it.Score = math.Float32frombits(d.uint32())
			k := d.uvarint()
			if k > uint64(len(data)) {
				return errShort
			}
			if k > 0 {
				it.Features = make([]float32, k)
				for j := range it.Features {
					it.Features[j] = math.Float32frombits(d.uint32())
				}
			}
			im.Items = append(im.Items, it)
		}
	default:
		return errors.New("event: unknown record kind")
	}
	return d.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
