package offline

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Type is the type of a feature column.
type Type uint8

// The column types. Timestamp is Unix milliseconds, stored as a Parquet
// TIMESTAMP(MILLIS).
const (
	Int64 Type = iota + 1
	Float64
	String
	Timestamp
)

func (t Type) String() string {
	switch t {
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	case String:
		return "string"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Field is one feature column of a view. Every feature column may be null
// (unknown); the entity and timestamp columns may not.
type Field struct {
	Name string
	Type Type
}

// View is a feature view: rows of one entity kind, each with an event-time
// timestamp, partitioned by date in the store. Views are plain values so the
// configuration can define more later; DefaultViews are the built-in ones.
type View struct {
	Name   string        // "user_features"; also the partition prefix view=<Name>
	Entity string        // the entity column: "user_id" or "product_id"
	Fields []Field       // feature columns, in row order
	TTL    time.Duration // a row serves a point-in-time lookup for this long
}

// TimeColumn is the name of every view's timestamp column.
const TimeColumn = "timestamp"

// Field returns the index of the named feature, or -1.
func (v *View) Field(name string) int {
	for i, f := range v.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Validate reports every problem of the view definition at once.
func (v *View) Validate() error {
	var errs []string
	if v.Name == "" || strings.ContainsAny(v.Name, "/=") {
		errs = append(errs, fmt.Sprintf("view name %q must be non-empty without / or =", v.Name))
	}
	if v.Entity == "" {
		errs = append(errs, "entity column must not be empty")
	}
	if v.TTL <= 0 {
		errs = append(errs, "ttl must be positive")
	}
	seen := map[string]bool{v.Entity: true, TimeColumn: true}
	for _, f := range v.Fields {
		if seen[f.Name] || f.Name == "" {
			errs = append(errs, fmt.Sprintf("field %q is empty or repeated", f.Name))
		}
		seen[f.Name] = true
		if f.Type < Int64 || f.Type > Timestamp {
			errs = append(errs, fmt.Sprintf("field %q has no type", f.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("view %s: %s", v.Name, strings.Join(errs, "; "))
	}
	return nil
}

// The names of the built-in views.
const (
	// UserFeatures holds the 5-minute tumbling window rows per user (the
	// case study's user_features_store); a row's timestamp is its window's end.
	UserFeatures = "user_features"
	// ProductFeatures holds the daily product snapshots.
	ProductFeatures = "product_features"
)

// The names of the raw event sets (not views: rows are whole events).
const (
	EventsSet     = "events"      // every behaviour event, by event date
	LateEventsSet = "late_events" // events too late for their window (the side output)
)

// DefaultViews returns the built-in views: user_features (TTL 30 days) and
// product_features (TTL 7 days). The caller owns the result.
func DefaultViews() []View {
	return []View{
		{
			Name: UserFeatures, Entity: "user_id", TTL: 30 * 24 * time.Hour,
			Fields: []Field{
				{"total_events", Int64}, {"clicks", Int64}, {"purchases", Int64}, {"add_to_carts", Int64},
				{"purchase_rate", Float64}, {"categories_viewed", Int64},
				{"first_event_time", Timestamp}, {"last_event_time", Timestamp},
			},
		},
		{
			Name: ProductFeatures, Entity: "product_id", TTL: 7 * 24 * time.Hour,
			Fields: []Field{
				{"category", String}, {"price", Float64}, {"popularity_score", Float64},
				{"conversion_rate", Float64}, {"avg_rating", Float64}, {"inventory_level", Int64},
			},
		},
	}
}

// FeatureRef names one feature of one view, as in "user_features:clicks".
type FeatureRef struct {
	View, Feature string
}

// ParseFeatureRefs parses "VIEW:NAME,VIEW:NAME,..." and checks each against
// views. Every reference must name the same view (one join at a time).
func ParseFeatureRefs(s string, views []View) (*View, []string, error) {
	var view *View
	var names []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		vn, fn, ok := strings.Cut(part, ":")
		if !ok || vn == "" || fn == "" {
			return nil, nil, fmt.Errorf("feature %q: want VIEW:NAME", part)
		}
		i := slices.IndexFunc(views, func(v View) bool { return v.Name == vn })
		if i < 0 {
			return nil, nil, fmt.Errorf("feature %q: unknown view %q (have %s)", part, vn, viewNames(views))
		}
		v := &views[i]
		if view != nil && view.Name != v.Name {
			return nil, nil, fmt.Errorf("feature %q: all features must come from one view (%s)", part, view.Name)
		}
		view = v
		if v.Field(fn) < 0 {
			var have []string
			for _, f := range v.Fields {
				have = append(have, f.Name)
			}
			return nil, nil, fmt.Errorf("feature %q: view %s has no feature %q (have %s)", part, vn, fn, strings.Join(have, ", "))
		}
		if !slices.Contains(names, fn) {
			names = append(names, fn)
		}
	}
	if view == nil {
		return nil, nil, fmt.Errorf("no features given (want VIEW:NAME,...)")
	}
	return view, names, nil
}

func viewNames(views []View) string {
	var s []string
	for _, v := range views {
		s = append(s, v.Name)
	}
	return strings.Join(s, ", ")
}
