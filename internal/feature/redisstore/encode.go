package redisstore

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"slices"
	"time"

	"github.com/recohq/reco/internal/feature/memstore"
)

var errCorrupt = errors.New("redisstore: corrupt value")

func netDialer() net.Dialer { return net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second} }

func appendScored(b []byte, list []memstore.Scored) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = binary.AppendUvarint(b, uint64(len(s.ID)))
		b = append(b, s.ID...)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(s.Score)))
	}
	return b
}

func decodeScored(b []byte) ([]memstore.Scored, error) {
	list, _, err := readScored(b)
	return list, err
}

func readScored(b []byte) ([]memstore.Scored, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[k:]
	out := make([]memstore.Scored, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l+4 {
			return nil, nil, errCorrupt
		}
		id := string(b[k : k+int(l)])
		b = b[k+int(l):]
		out = append(out, memstore.Scored{ID: id, Score: float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))})
		b = b[4:]
	}
	return out, b, nil
}

func encodeIndex(ix *memstore.Index) []byte {
	b := binary.AppendVarint(nil, ix.Built)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ix.MaxPop))
	b = appendScored(b, ix.Global)
	b = appendScored(b, ix.Trending)
	cats := make([]string, 0, len(ix.ByCategory))
	for c := range ix.ByCategory {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	b = binary.AppendUvarint(b, uint64(len(cats)))
	for _, c := range cats {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
		b = appendScored(b, ix.ByCategory[c])
	}
	return b
}

func decodeIndex(b []byte) (*memstore.Index, error) {
	ix := &memstore.Index{ByCategory: map[string][]memstore.Scored{}}
	v, k := binary.Varint(b)
	if k <= 0 || len(b) < k+8 {
		return nil, errCorrupt
	}
	ix.Built = v
	ix.MaxPop = math.Float64frombits(binary.LittleEndian.Uint64(b[k:]))
	b = b[k+8:]
	var err error
	if ix.Global, b, err = readScored(b); err != nil {
		return nil, err
	}
	if ix.Trending, b, err = readScored(b); err != nil {
		return nil, err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errCorrupt
		}
		c := string(b[k : k+int(l)])
		b = b[k+int(l):]
		var list []memstore.Scored
		if list, b, err = readScored(b); err != nil {
			return nil, err
		}
		ix.ByCategory[c] = list
	}
	ix.Categories = len(ix.ByCategory)
	return ix, nil
}
