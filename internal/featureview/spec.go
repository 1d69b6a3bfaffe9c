package featureview

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

// View is one declared feature view: an entity, a TTL and a schema.
type View struct {
	Name        string    `json:"name" yaml:"name"`
	Entity      string    `json:"entity" yaml:"entity"` // user, product, user_category, category, session
	TTL         Duration  `json:"ttl" yaml:"ttl"`       // 0: values never expire
	Features    []Feature `json:"features" yaml:"features"`
	Description string    `json:"description,omitempty" yaml:"description"`
}

// Feature is one column of a view and the aggregation that maintains it.
type Feature struct {
	Name string `json:"name" yaml:"name"`
	// Type is int64, float64, string or timestamp; empty means the natural
	// type of Agg and Field.
	Type string `json:"type" yaml:"type"`
	// Agg is count, sum, avg, min, max, ratio, distinct_count, first, last,
	// most_frequent, decayed_count, window_count or stock.
	Agg string `json:"agg" yaml:"agg"`
	// Events are the behaviour event types that update the feature; empty
	// means all of them.
	Events []string `json:"events,omitempty" yaml:"events"`
	// Field is what the aggregation reads from an event: price (the event's,
	// else the catalog's), quantity, rating, revenue (price*quantity), time
	// (event time), category (the event's, else the catalog's), product_id,
	// user_id, session_id or event_type.
	Field string `json:"field,omitempty" yaml:"field"`
	// Catalog (product views, first/last/stock) is the catalog upsert field
	// that sets the value: category, name, price, margin or inventory. A
	// value set by the catalog wins over events.
	Catalog string `json:"catalog,omitempty" yaml:"catalog"`
	// HalfLife of decayed_count.
	HalfLife Duration `json:"half_life,omitempty" yaml:"half_life"`
	// Weights of decayed_count by event type (absent types weigh 0); nil
	// means every event weighs 1.
	Weights map[string]float64 `json:"weights,omitempty" yaml:"weights"`
	// Window of window_count (sliding), kept in Buckets time buckets
	// (0 means 12).
	Window  Duration `json:"window,omitempty" yaml:"window"`
	Buckets int      `json:"buckets,omitempty" yaml:"buckets"`
	// Numerator and Denominator of ratio: names of other features of the
	// same view (not ratios). A zero or missing denominator reads as Default.
	Numerator   string `json:"numerator,omitempty" yaml:"numerator"`
	Denominator string `json:"denominator,omitempty" yaml:"denominator"`
	// Default is the value read when a known entity has no observation for
	// the feature (an avg of nothing, a ratio over 0); nil means missing.
	Default     any    `json:"default,omitempty" yaml:"default"`
	Description string `json:"description,omitempty" yaml:"description"`
}

// OnDemand is a feature computed at request time from other views' values.
type OnDemand struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type" yaml:"type"` // empty: the function's natural type
	// Inputs are "view:feature" references.
	Inputs []string `json:"inputs" yaml:"inputs"`
	// Func is one of: purchase_tier (1 input: high > 0.1, medium > 0.05,
	// else low); tier(T1:label1, T2:label2, ..., else_label) (1 input: the
	// label of the first threshold the input exceeds, checked in order);
	// ratio (a/b, 0 when b is 0); sum and diff (a+b, a-b); log1p (1 input);
	// age_seconds (1 timestamp input: seconds from it to the request time).
	Func        string `json:"func" yaml:"func"`
	Description string `json:"description,omitempty" yaml:"description"`
}

// Config is the feature_views section of reco.yaml.
type Config struct {
	// Defaults includes the shipped views (Defaults()); nil means true. A
	// view or on-demand feature of the same name replaces a default.
	Defaults *bool `json:"defaults,omitempty" yaml:"defaults"`
	// File names a YAML file with more views and on-demand features, in the
	// same shape (views:, on_demand:); they come after the inline ones.
	File     string     `json:"file,omitempty" yaml:"file"`
	Views    []View     `json:"views,omitempty" yaml:"views"`
	OnDemand []OnDemand `json:"on_demand,omitempty" yaml:"on_demand"`
}

// Resolve returns the views and on-demand features c declares: the
// defaults (unless turned off), then c.Views, then the file's, validated.
// readFile reads c.File (the caller resolves relative paths); it may be nil
// when File is empty. Errors name where each bad field was declared:
// feature_views.views[0].features[1].agg, feature_views.file(x.yaml).views[0]...
func (c Config) Resolve(readFile func(name string) ([]byte, error)) ([]View, []OnDemand, error) {
	return c.ResolveFor(feature.Options{}, readFile)
}

// ResolveFor is Resolve with the defaults built by DefaultsFor(fo), so that
// the features: section's weights and popularity half-life apply to them.
func (c Config) ResolveFor(fo feature.Options, readFile func(name string) ([]byte, error)) ([]View, []OnDemand, error) {
	var views []View
	var ods []OnDemand
	var vkeys, okeys []string // where each one was declared, for errors
	if c.Defaults == nil || *c.Defaults {
		views, ods = DefaultsFor(fo)
		for _, v := range views {
			vkeys = append(vkeys, "feature_views.defaults("+v.Name+")")
		}
		for _, o := range ods {
			okeys = append(okeys, "feature_views.defaults("+o.Name+")")
		}
	}
	add := func(vs []View, os []OnDemand, prefix string) {
		for j, v := range vs {
			key := fmt.Sprintf("%sviews[%d]", prefix, j)
			if i := slices.IndexFunc(views, func(x View) bool { return x.Name == v.Name }); i >= 0 {
				views[i], vkeys[i] = v, key
			} else {
				views, vkeys = append(views, v), append(vkeys, key)
			}
		}
		for j, o := range os {
			key := fmt.Sprintf("%son_demand[%d]", prefix, j)
			if i := slices.IndexFunc(ods, func(x OnDemand) bool { return x.Name == o.Name }); i >= 0 {
				ods[i], okeys[i] = o, key
			} else {
				ods, okeys = append(ods, o), append(okeys, key)
			}
		}
	}
	add(c.Views, c.OnDemand, "feature_views.")
	if c.File != "" {
		if readFile == nil {
			return nil, nil, fmt.Errorf("feature_views.file: no reader")
		}
		data, err := readFile(c.File)
		if err != nil {
			return nil, nil, fmt.Errorf("feature_views.file: %w", err)
		}
		f, err := ParseYAML(data)
		if err != nil {
			return nil, nil, fmt.Errorf("feature_views.file %s: %w", c.File, err)
		}
		add(f.Views, f.OnDemand, "feature_views.file("+c.File+").")
	}
	if err := validate(func(i int) string { return vkeys[i] }, func(i int) string { return okeys[i] }, views, ods); err != nil {
		return nil, nil, err
	}
	return views, ods, nil
}

// ParseYAML decodes a document with views: and on_demand: keys (the shape
// of Config, which it returns). Unknown keys are errors.
func ParseYAML(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	return c, nil
}

// Duration is a time.Duration written as text: Go's units plus "d" for
// days ("30d", "1h", "90s").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d, in days when whole days.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses "90s", "1h30m" or "7d".
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(days, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("bad duration %q (want e.g. 500ms, 10s, 2h, 7d)", s)
		}
		*d = Duration(f * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. 500ms, 10s, 2h, 7d)", s)
	}
	*d = Duration(v)
	return nil
}

// The vocabulary.
var (
	entities = []string{"user", "product", "user_category", "category", "session"}
	types    = []string{"int64", "float64", "string", "timestamp"}
	aggs     = []string{"count", "sum", "avg", "min", "max", "ratio", "distinct_count", "first", "last",
		"most_frequent", "decayed_count", "window_count", "stock"}
	numFields = []string{"price", "quantity", "rating", "revenue", "time"}
	strFields = []string{"category", "product_id", "user_id", "session_id", "event_type"}
	catFields = map[string]string{"category": "string", "name": "string", "price": "float64", "margin": "float64", "inventory": "int64"}
)

// naturalType is the type a feature has when Type is empty.
func naturalType(f *Feature) string {
	switch f.Agg {
	case "count", "distinct_count", "window_count", "stock":
		return "int64"
	case "most_frequent":
		return "string"
	case "min", "max", "first", "last":
		if f.Field == "" && f.Catalog != "" {
			return catFields[f.Catalog]
		}
		if slices.Contains(strFields, f.Field) {
			return "string"
		}
		if f.Field == "time" {
			return "timestamp"
		}
	}
	return "float64"
}

// Validate reports every bad field of views and ods at once, each named
// like feature_views[2].features[1].agg or on_demand[0].inputs[1].
func Validate(views []View, ods []OnDemand) error {
	return ValidateAt("feature_views", "on_demand", views, ods)
}

// ValidateAt is Validate with other key prefixes for views and on-demand
// features.
func ValidateAt(viewsKey, odKey string, views []View, ods []OnDemand) error {
	return validate(func(i int) string { return fmt.Sprintf("%s[%d]", viewsKey, i) },
		func(i int) string { return fmt.Sprintf("%s[%d]", odKey, i) }, views, ods)
}

func validate(viewKey, odKey func(int) string, views []View, ods []OnDemand) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	names := map[string]bool{}
	viewByName := map[string]*View{}
	for i := range views {
		v := &views[i]
		vk := viewKey(i)
		if !validName(v.Name) {
			bad(vk+".name", "%q is not a name (letters, digits, _)", v.Name)
		} else if names[v.Name] {
			bad(vk+".name", "duplicate view %q", v.Name)
		}
		names[v.Name] = true
		viewByName[v.Name] = v
		if !slices.Contains(entities, v.Entity) {
			bad(vk+".entity", "unknown entity %q (want one of %s)", v.Entity, strings.Join(entities, ", "))
		}
		if v.TTL < 0 {
			bad(vk+".ttl", "must not be negative")
		}
		if len(v.Features) == 0 {
			bad(vk+".features", "a view needs at least one feature")
		}
		fnames := map[string]*Feature{}
		for j := range v.Features {
			f := &v.Features[j]
			if validName(f.Name) && fnames[f.Name] == nil {
				fnames[f.Name] = f
			}
		}
		seen := map[string]bool{}
		for j := range v.Features {
			f := &v.Features[j]
			fk := fmt.Sprintf("%s.features[%d]", vk, j)
			if !validName(f.Name) {
				bad(fk+".name", "%q is not a name (letters, digits, _)", f.Name)
			} else if seen[f.Name] {
				bad(fk+".name", "duplicate feature %q", f.Name)
			}
			seen[f.Name] = true
			validateFeature(f, v, fnames, fk, bad)
		}
	}
	odNames := map[string]bool{}
	for i := range ods {
		o := &ods[i]
		ok := odKey(i)
		if !validName(o.Name) {
			bad(ok+".name", "%q is not a name (letters, digits, _)", o.Name)
		} else if odNames[o.Name] {
			bad(ok+".name", "duplicate on-demand feature %q", o.Name)
		}
		odNames[o.Name] = true
		var inTypes []string
		for j, in := range o.Inputs {
			vn, fn, found := strings.Cut(in, ":")
			v := viewByName[vn]
			switch {
			case !found:
				bad(fmt.Sprintf("%s.inputs[%d]", ok, j), "%q is not view:feature", in)
			case v == nil:
				bad(fmt.Sprintf("%s.inputs[%d]", ok, j), "unknown view %q", vn)
			default:
				k := slices.IndexFunc(v.Features, func(f Feature) bool { return f.Name == fn })
				if k < 0 {
					bad(fmt.Sprintf("%s.inputs[%d]", ok, j), "view %q has no feature %q", vn, fn)
					continue
				}
				t := v.Features[k].Type
				if t == "" {
					t = naturalType(&v.Features[k])
				}
				inTypes = append(inTypes, t)
			}
		}
		fn, err := parseFunc(o.Func)
		if err != nil {
			bad(ok+".func", "%v", err)
			continue
		}
		if len(o.Inputs) != fn.arity {
			bad(ok+".inputs", "%s takes %d inputs, got %d", fn.name, fn.arity, len(o.Inputs))
		} else if len(inTypes) == fn.arity {
			for j, t := range inTypes {
				want := "number"
				if fn.name == "age_seconds" {
					want = "timestamp"
				}
				if (want == "number" && t != "int64" && t != "float64") || (want == "timestamp" && t != "timestamp") {
					bad(fmt.Sprintf("%s.inputs[%d]", ok, j), "%s takes a %s, %s is %s", fn.name, want, o.Inputs[j], t)
				}
			}
		}
		if o.Type != "" && o.Type != fn.typ {
			bad(ok+".type", "%s yields %s, not %q", fn.name, fn.typ, o.Type)
		}
	}
	return errors.Join(errs...)
}

func validateFeature(f *Feature, v *View, fnames map[string]*Feature, fk string, bad func(key, format string, args ...any)) {
	if !slices.Contains(aggs, f.Agg) {
		bad(fk+".agg", "unknown aggregation %q", f.Agg)
		return
	}
	if f.Type != "" && !slices.Contains(types, f.Type) {
		bad(fk+".type", "unknown type %q (want one of %s)", f.Type, strings.Join(types, ", "))
	}
	for k, e := range f.Events {
		if _, ok := event.ParseType(e); !ok {
			bad(fmt.Sprintf("%s.events[%d]", fk, k), "unknown event type %q", e)
		}
	}
	if f.Field != "" && !slices.Contains(numFields, f.Field) && !slices.Contains(strFields, f.Field) {
		bad(fk+".field", "unknown field %q", f.Field)
	}
	if f.Catalog != "" {
		if _, ok := catFields[f.Catalog]; !ok {
			bad(fk+".catalog", "unknown catalog field %q", f.Catalog)
		} else if v.Entity != "product" {
			bad(fk+".catalog", "only product views read the catalog")
		} else if f.Agg != "first" && f.Agg != "last" && f.Agg != "stock" {
			bad(fk+".catalog", "only first, last and stock read the catalog")
		}
	}
	isStr := slices.Contains(strFields, f.Field)
	isNum := slices.Contains(numFields, f.Field)
	typ := f.Type
	if typ == "" {
		typ = naturalType(f)
	}
	numeric := typ == "int64" || typ == "float64"
	needType := func(ok bool) {
		if !ok {
			bad(fk+".type", "%s of %s cannot be %s", f.Agg, orNothing(f.Field), typ)
		}
	}
	noField := func() {
		if f.Field != "" {
			bad(fk+".field", "%s takes no field", f.Agg)
		}
	}
	switch f.Agg {
	case "count":
		noField()
		needType(numeric)
	case "sum", "avg":
		if !isNum {
			bad(fk+".field", "%s needs a numeric field (%s)", f.Agg, strings.Join(numFields, ", "))
		}
		needType(numeric)
	case "min", "max":
		if !isNum {
			bad(fk+".field", "%s needs a numeric field (%s)", f.Agg, strings.Join(numFields, ", "))
		}
		needType(numeric || (typ == "timestamp" && f.Field == "time"))
	case "first", "last":
		if f.Field == "" && f.Catalog == "" {
			bad(fk+".field", "%s needs a field or a catalog field", f.Agg)
		}
		src := f.Field
		if src == "" {
			src = f.Catalog
		}
		str := isStr || catFields[f.Catalog] == "string"
		if f.Field != "" && f.Catalog != "" && isStr != (catFields[f.Catalog] == "string") {
			bad(fk+".catalog", "%s and %s do not have the same type", f.Field, f.Catalog)
		}
		if str {
			needType(typ == "string")
		} else {
			needType(numeric || (typ == "timestamp" && src == "time"))
		}
	case "most_frequent":
		if !isStr {
			bad(fk+".field", "most_frequent needs a text field (%s)", strings.Join(strFields, ", "))
		}
		needType(typ == "string")
	case "distinct_count":
		if f.Field == "" {
			bad(fk+".field", "distinct_count needs a field")
		}
		needType(numeric)
	case "decayed_count":
		noField()
		if f.HalfLife <= 0 {
			bad(fk+".half_life", "decayed_count needs a positive half_life")
		}
		for k, w := range f.Weights {
			if _, ok := event.ParseType(k); !ok {
				bad(fk+".weights."+k, "unknown event type %q", k)
			} else if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				bad(fk+".weights."+k, "must be a finite number >= 0")
			}
		}
		needType(numeric)
	case "window_count":
		noField()
		if f.Window <= 0 {
			bad(fk+".window", "window_count needs a positive window")
		}
		if f.Buckets < 0 || f.Buckets > 1000 {
			bad(fk+".buckets", "%d is not between 1 and 1000", f.Buckets)
		} else if f.Window > 0 && time.Duration(f.Window)/time.Duration(max(f.Buckets, 1)) < time.Millisecond {
			bad(fk+".buckets", "buckets shorter than 1ms")
		}
		needType(numeric)
	case "ratio":
		noField()
		for _, side := range []struct{ key, name string }{{"numerator", f.Numerator}, {"denominator", f.Denominator}} {
			g := fnames[side.name]
			switch {
			case side.name == "":
				bad(fk+"."+side.key, "ratio needs a %s", side.key)
			case g == nil:
				bad(fk+"."+side.key, "no feature %q in view %q", side.name, v.Name)
			case g.Agg == "ratio":
				bad(fk+"."+side.key, "%q is a ratio (a ratio of ratios is not supported)", side.name)
			default:
				gt := g.Type
				if gt == "" {
					gt = naturalType(g)
				}
				if gt != "int64" && gt != "float64" {
					bad(fk+"."+side.key, "%q is not numeric", side.name)
				}
			}
		}
		needType(numeric)
	case "stock":
		if v.Entity != "product" {
			bad(fk+".agg", "stock is for product views")
		}
		if f.Catalog != "" && f.Catalog != "inventory" {
			bad(fk+".catalog", "stock reads the catalog's inventory")
		}
		if f.Field != "" && f.Field != "quantity" {
			bad(fk+".field", "stock subtracts quantity")
		}
		needType(typ == "int64")
	}
	if f.Agg != "decayed_count" && (f.HalfLife != 0 || f.Weights != nil) {
		bad(fk+".half_life", "only decayed_count takes half_life and weights")
	}
	if f.Agg != "window_count" && (f.Window != 0 || f.Buckets != 0) {
		bad(fk+".window", "only window_count takes window and buckets")
	}
	if f.Agg != "ratio" && (f.Numerator != "" || f.Denominator != "") {
		bad(fk+".numerator", "only ratio takes numerator and denominator")
	}
	if f.Default != nil {
		if _, err := convertDefault(f.Default, typ); err != nil {
			bad(fk+".default", "%v", err)
		}
	}
}

func orNothing(s string) string {
	if s == "" {
		return "events"
	}
	return s
}

func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// convertDefault turns a decoded default (YAML or JSON number, text) into
// the feature's type.
func convertDefault(d any, typ string) (any, error) {
	var f float64
	isNum := true
	switch x := d.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	case float32:
		f = float64(x)
	default:
		isNum = false
	}
	switch typ {
	case "int64":
		if !isNum || f != math.Trunc(f) {
			return nil, fmt.Errorf("%v is not an int64", d)
		}
		return int64(f), nil
	case "float64":
		if !isNum {
			return nil, fmt.Errorf("%v is not a number", d)
		}
		return f, nil
	case "string":
		s, ok := d.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not text", d)
		}
		return s, nil
	case "timestamp":
		switch x := d.(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 time", x)
			}
			return t.UTC(), nil
		case time.Time:
			return x.UTC(), nil
		}
		if isNum {
			return time.UnixMilli(int64(f)).UTC(), nil
		}
		return nil, fmt.Errorf("%v is not a time", d)
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}
