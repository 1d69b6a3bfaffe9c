package config

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes a reco.yaml document over the defaults in c. Unknown keys
// are errors naming the key and line.
func Parse(data []byte, c *Config) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("reco.yaml: %w", err)
	}
	if len(root.Content) == 0 {
		return nil // empty file
	}
	if errs := checkKeys(root.Content[0], reflect.TypeOf(*c), ""); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if errs := decodeNode(root.Content[0], reflect.ValueOf(c).Elem(), ""); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// decodeNode decodes a mapping into a struct key by key, so that a bad
// value's error names its key and line.
func decodeNode(n *yaml.Node, v reflect.Value, prefix string) []error {
	if n.Kind != yaml.MappingNode {
		return nil // checkKeys reported it
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		f, ok := fieldByTag(v.Type(), k.Value)
		if !ok {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		key := prefix + k.Value
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) && val.Kind == yaml.MappingNode {
			errs = append(errs, decodeNode(val, fv, key+".")...)
			continue
		}
		if err := val.Decode(fv.Addr().Interface()); err != nil {
			errs = append(errs, fmt.Errorf("%s (line %d): %s", key, val.Line, cleanYAMLErr(err)))
		}
	}
	return errs
}

func cleanYAMLErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ": "); strings.HasPrefix(s, "line ") && i > 0 {
		s = s[i+2:] // the caller names the line
	}
	return s
}

// checkKeys walks a mapping node against a struct type and reports keys
// the struct does not have, with their dotted path and line.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil // a scalar type such as Duration or time.Time
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []error{fmt.Errorf("%s (line %d): must be a mapping", strings.TrimSuffix(prefix, "."), n.Line)}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				errs = append(errs, fmt.Errorf("%s%s (line %d): unknown key", prefix, k.Value, k.Line))
				continue
			}
			errs = append(errs, checkKeys(v, f.Type, prefix+k.Value+".")...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil // a scalar list is an error the decoder reports
		}
		var errs []error
		for i, item := range n.Content {
			errs = append(errs, checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i))...)
		}
		return errs
	}
	return nil
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("yaml"), ",")[0] == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// leaf is one settable key: a scalar or a list of scalars.
type leaf struct {
	key  string // event_log.type
	help string
	v    reflect.Value
}

func (l leaf) env() string {
	return "RECO_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(l.key))
}

func (l leaf) flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(l.key)
}

func leaves(v reflect.Value, prefix string) []leaf {
	var out []leaf
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeOf(Duration(0)):
			out = append(out, leaf{key, f.Tag.Get("help"), fv})
		case f.Type.Kind() == reflect.Struct:
			out = append(out, leaves(fv, key+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String,
			f.Type.Kind() == reflect.String, f.Type.Kind() == reflect.Int, f.Type.Kind() == reflect.Int64,
			f.Type.Kind() == reflect.Float64, f.Type.Kind() == reflect.Bool:
			out = append(out, leaf{key, f.Tag.Get("help"), fv})
		}
		// Maps and lists of structs (experiments, weights) are file-only.
	}
	return out
}

func setLeaf(l leaf, s string) error {
	v := l.v
	switch {
	case v.Type() == reflect.TypeOf(Duration(0)):
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(n)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	}
	return nil
}

// Load builds the configuration for a command: defaults, then the file
// (from --config, else RECO_CONFIG, else ./reco.yaml if it exists), then
// RECO_* variables, then flags. fs receives a flag for every key plus
// --config and the aliases in aliases (e.g. "data" for data_dir); args are
// parsed with it. It returns the remaining arguments.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string, aliases map[string]string) (Config, []string, error) {
	c := Default()
	all := leaves(reflect.ValueOf(&c).Elem(), "")
	byKey := map[string]leaf{}
	for _, l := range all {
		byKey[l.key] = l
	}
	// Flags are recorded first and applied last, so they win.
	set := map[string]string{}
	var order []string
	record := func(key string) func(string) error {
		return func(s string) error {
			if _, ok := set[key]; !ok {
				order = append(order, key)
			}
			set[key] = s
			return nil
		}
	}
	configPath := fs.String("config", "", "path of reco.yaml (default ./reco.yaml if present; env RECO_CONFIG)")
	for _, l := range all {
		fs.Func(l.flag(), l.help+" ("+l.key+", env "+l.env()+")", record(l.key))
	}
	aliasNames := make([]string, 0, len(aliases))
	for a := range aliases {
		aliasNames = append(aliasNames, a)
	}
	sort.Strings(aliasNames)
	for _, a := range aliasNames {
		key := aliases[a]
		fs.Func(a, "same as --"+byKey[key].flag(), record(key))
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	path := *configPath
	explicit := path != ""
	if path == "" {
		path = getenv("RECO_CONFIG")
		explicit = path != ""
	}
	if path == "" {
		path = "reco.yaml"
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := Parse(data, &c); err != nil {
			return c, nil, fmt.Errorf("%s: %w", path, err)
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		return c, nil, fmt.Errorf("read config: %w", err)
	}
	var errs []error
	for _, l := range all {
		if s := getenv(l.env()); s != "" {
			if err := setLeaf(l, s); err != nil {
				errs = append(errs, fmt.Errorf("%s (env %s): %w", l.key, l.env(), err))
			}
		}
	}
	for _, key := range order {
		l := byKey[key]
		if err := setLeaf(l, set[key]); err != nil {
			errs = append(errs, fmt.Errorf("%s (flag --%s): %w", l.key, l.flag(), err))
		}
	}
	if len(errs) > 0 {
		return c, nil, errors.Join(errs...)
	}
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}
