package event

import (
	"strconv"
)

// Type is the kind of a user behaviour event.
type Type uint8

// The behaviour event types, in funnel order. The numeric values are part of
// the log format: never reorder them.
const (
	View Type = iota + 1
	Click
	AddToCart
	RemoveFromCart
	Purchase
	Review
)

var typeNames = [...]string{"", "view", "click", "add_to_cart", "remove_from_cart", "purchase", "review"}

func (t Type) String() string {
	if int(t) < len(typeNames) && t > 0 {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the Type named s, or false.
func ParseType(s string) (Type, bool) {
	for i := 1; i < len(typeNames); i++ {
		if typeNames[i] == s {
			return Type(i), true
		}
	}
	return 0, false
}

// Event is one user behaviour event. Times are Unix milliseconds.
type Event struct {
	Type      Type
	UserID    string
	ProductID string
	SessionID string
	Category  string  // "" = take it from the catalog
	Price     float64 // < 0 = not given
	Quantity  int32   // >= 1
	Rating    int8    // 1-5 for Review, else 0
	Time      int64   // event time
	RequestID string  // the recommendation this event answers, if any
	Ingested  int64   // when the log accepted it (freshness)
	// SourceKey is the event's idempotency key, "" when it has none: the
	// client's event_id for live traffic, "<file-hash>:<line>" for an
	// import. The stream drops an event whose key it saw for the same user
	// shortly before (see package dedupe).
	SourceKey string
}

// Product is a catalog upsert. Zero-valued optional fields mean "not given"
// as marked by the Has* flags, so an upsert never erases what it does not name.
type Product struct {
	ID           string
	Category     string
	Name         string
	Price        float64
	Inventory    int64
	Margin       float64
	Promoted     bool
	Available    bool
	Attributes   map[string]string
	Time         int64
	HasPrice     bool
	HasInventory bool
	HasMargin    bool
	HasPromoted  bool
	HasAvailable bool
}

// Impression is one served recommendation list: the exposure that later
// clicks and purchases are attributed to.
type Impression struct {
	RequestID    string
	UserID       string
	SessionID    string
	ModelVersion string
	Experiment   string
	Variant      string
	Fallback     string
	Time         int64
	Items        []ImpressionItem
	FeatureNames []string // names of the columns of each item's Features
}

// ImpressionItem is one item of a served list.
type ImpressionItem struct {
	ProductID string
	Source    string
	Position  int32
	Score     float32
	Features  []float32
}

// Kind tags what a log record holds.
type Kind uint8

// The record kinds. Values are part of the log format.
const (
	KindEvent      Kind = 1
	KindProduct    Kind = 2
	KindImpression Kind = 3
)

// Record is a decoded log record: exactly one of its pointers is set,
// matching Kind.
type Record struct {
	Kind       Kind
	Event      Event
	Product    Product
	Impression Impression
	// Partition is the log partition the record was read from. The stream
	// processor sets it (to the global partition number, see
	// stream.Options.PartitionIDs); it is not encoded in the log, and it is
	// 0 wherever records are decoded without a processor.
	Partition int
}
