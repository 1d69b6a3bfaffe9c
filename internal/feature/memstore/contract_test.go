package memstore_test

import (
	"testing"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, ref *memstore.Store, _ []event.Record) storetest.Store { return ref })
}
