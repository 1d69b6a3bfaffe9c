package event

import (
	"encoding/binary"
	"errors"
	"sort"

	"github.com/recohq/reco/internal/wire"
)

// The log encoding is hand-written rather than JSON or gob: the stream
// processor decodes every record on its hot path (hundreds of thousands a
// second), so the format is varints and length-prefixed strings with no
// reflection. The first byte is the format version, the second the Kind.
const codecVersion = 1

var errShort = wire.ErrShort

// AppendEvent appends the log encoding of e to b.
func AppendEvent(b []byte, e *Event) []byte {
	b = append(b, codecVersion, byte(KindEvent), byte(e.Type))
	b = wire.AppendString(b, e.UserID)
	b = wire.AppendString(b, e.ProductID)
	b = wire.AppendString(b, e.SessionID)
	b = wire.AppendString(b, e.Category)
	b = wire.AppendFloat64(b, e.Price)
	b = binary.AppendUvarint(b, uint64(e.Quantity))
	b = append(b, byte(e.Rating))
	b = binary.AppendVarint(b, e.Time)
	b = wire.AppendString(b, e.RequestID)
	b = binary.AppendVarint(b, e.Ingested)
	b = wire.AppendString(b, e.SourceKey)
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
	b = wire.AppendString(b, p.ID)
	b = wire.AppendString(b, p.Category)
	b = wire.AppendString(b, p.Name)
	b = wire.AppendFloat64(b, p.Price)
	b = binary.AppendVarint(b, p.Inventory)
	b = wire.AppendFloat64(b, p.Margin)
	b = binary.AppendVarint(b, p.Time)
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = wire.AppendString(b, k)
		b = wire.AppendString(b, p.Attributes[k])
	}
	return b
}

// AppendImpression appends the log encoding of im to b.
func AppendImpression(b []byte, im *Impression) []byte {
	b = append(b, codecVersion, byte(KindImpression))
	for _, s := range []string{im.RequestID, im.UserID, im.SessionID, im.ModelVersion, im.Experiment, im.Variant, im.Fallback} {
		b = wire.AppendString(b, s)
	}
	b = binary.AppendVarint(b, im.Time)
	b = binary.AppendUvarint(b, uint64(len(im.FeatureNames)))
	for _, n := range im.FeatureNames {
		b = wire.AppendString(b, n)
	}
	b = binary.AppendUvarint(b, uint64(len(im.Items)))
	for i := range im.Items {
		it := &im.Items[i]
		b = wire.AppendString(b, it.ProductID)
		b = wire.AppendString(b, it.Source)
		b = binary.AppendUvarint(b, uint64(it.Position))
		b = wire.AppendFloat32(b, it.Score)
		b = binary.AppendUvarint(b, uint64(len(it.Features)))
		for _, f := range it.Features {
			b = wire.AppendFloat32(b, f)
		}
	}
	return b
}

// Decode decodes a log record into r, reusing r's memory where it can.
// Strings are copied, so r does not alias data.
func Decode(data []byte, r *Record) error {
	d := wire.NewReader(data)
	if d.Byte() != codecVersion {
		return errors.New("event: unknown record version")
	}
	r.Kind = Kind(d.Byte())
	switch r.Kind {
	case KindEvent:
		e := &r.Event
		e.Type = Type(d.Byte())
		e.UserID = d.String()
		e.ProductID = d.String()
		e.SessionID = d.String()
		e.Category = d.String()
		e.Price = d.Float64()
		e.Quantity = int32(d.Uvarint())
		e.Rating = int8(d.Byte())
		e.Time = d.Varint()
		e.RequestID = d.String()
		e.Ingested = d.Varint()
		e.SourceKey = d.String()
	case KindProduct:
		p := &r.Product
		flags := d.Byte()
		p.HasPrice, p.HasInventory, p.HasMargin = flags&1 != 0, flags&2 != 0, flags&4 != 0
		p.HasPromoted, p.HasAvailable, p.Promoted, p.Available = flags&8 != 0, flags&16 != 0, flags&32 != 0, flags&64 != 0
		p.ID = d.String()
		p.Category = d.String()
		p.Name = d.String()
		p.Price = d.Float64()
		p.Inventory = d.Varint()
		p.Margin = d.Float64()
		p.Time = d.Varint()
		n := d.Uvarint()
		p.Attributes = nil
		if n > uint64(len(data)) {
			return errShort
		}
		if n > 0 {
			p.Attributes = make(map[string]string, n)
			for i := uint64(0); i < n && d.Err() == nil; i++ {
				k := d.String()
				p.Attributes[k] = d.String()
			}
		}
	case KindImpression:
		im := &r.Impression
		for _, s := range []*string{&im.RequestID, &im.UserID, &im.SessionID, &im.ModelVersion, &im.Experiment, &im.Variant, &im.Fallback} {
			*s = d.String()
		}
		im.Time = d.Varint()
		nf := d.Uvarint()
		if nf > uint64(len(data)) {
			return errShort
		}
		im.FeatureNames = im.FeatureNames[:0]
		for i := uint64(0); i < nf && d.Err() == nil; i++ {
			im.FeatureNames = append(im.FeatureNames, d.String())
		}
		n := d.Uvarint()
		if n > uint64(len(data)) {
			return errShort
		}
		im.Items = im.Items[:0]
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			var it ImpressionItem
			it.ProductID = d.String()
			it.Source = d.String()
			it.Position = int32(d.Uvarint())
			it.Score = d.Float32()
			k := d.Uvarint()
			if k > uint64(len(data)) {
				return errShort
			}
			if k > 0 {
				it.Features = make([]float32, k)
				for j := range it.Features {
					it.Features[j] = d.Float32()
				}
			}
			im.Items = append(im.Items, it)
		}
	default:
		return errors.New("event: unknown record kind")
	}
	return d.Err()
}
