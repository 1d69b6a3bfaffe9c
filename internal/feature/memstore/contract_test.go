package memstore_test

import (
	"testing"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, ref *memstore.Store, _ []event.Record) storetest.Store { return ref })
}

// merged reads several partitions' stores as one, with the merges a
// partitioned online store applies on read.
type merged struct {
	parts []*memstore.Store
	o     feature.Options
}

func (m merged) User(id string) (*feature.User, bool) {
	return m.parts[storetest.PartitionOf(id, len(m.parts))].User(id)
}

func (m merged) Products(ids []string, out []*feature.Product) {
	for i, id := range ids {
		var ps []*feature.Product
		for _, p := range m.parts {
			if c, ok := p.Product(id); ok {
				ps = append(ps, c)
			}
		}
		out[i] = feature.MergeProducts(ps, &m.o)
	}
}

func (m merged) CoVisited(id string, n int) []memstore.Scored {
	var lists [][]memstore.Scored
	for _, p := range m.parts {
		lists = append(lists, p.CoVisited(id, m.parts[0].Options().MaxNeighbors))
	}
	return memstore.MergeScored(lists, n)
}

func (m merged) Index() *memstore.Index {
	var ixs []*memstore.Index
	for _, p := range m.parts {
		ixs = append(ixs, p.Index())
	}
	return memstore.MergeIndexes(ixs, float64(m.o.PopularityHalfLife.Milliseconds()), 0, 0)
}

func TestContractPartitioned(t *testing.T) {
	for _, n := range []int{1, 3} {
		storetest.RunPartitioned(t, n, func(t *testing.T, parts []*memstore.Store) storetest.Store {
			return merged{parts: parts, o: feature.Options{}.WithDefaults()}
		})
	}
}
