package featureview

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// odFunc is a compiled on-demand function. Inputs arrive as float64
// (numbers) or time.Time (timestamps); every input is present.
type odFunc struct {
	name  string
	arity int
	typ   string
	eval  func(in []any, now time.Time) any
}

type tierStep struct {
	over  float64
	label string
}

// parseFunc compiles an OnDemand.Func.
func parseFunc(s string) (*odFunc, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "purchase_tier":
		f, _ := parseFunc("tier(0.1:high, 0.05:medium, low)")
		f.name = "purchase_tier"
		return f, nil
	case "ratio":
		return &odFunc{name: s, arity: 2, typ: "float64", eval: func(in []any, _ time.Time) any {
			a, b := in[0].(float64), in[1].(float64)
			if b == 0 {
				return 0.0
			}
			return a / b
		}}, nil
	case "sum":
		return &odFunc{name: s, arity: 2, typ: "float64", eval: func(in []any, _ time.Time) any {
			return in[0].(float64) + in[1].(float64)
		}}, nil
	case "diff":
		return &odFunc{name: s, arity: 2, typ: "float64", eval: func(in []any, _ time.Time) any {
			return in[0].(float64) - in[1].(float64)
		}}, nil
	case "log1p":
		return &odFunc{name: s, arity: 1, typ: "float64", eval: func(in []any, _ time.Time) any {
			return math.Log1p(math.Max(in[0].(float64), 0))
		}}, nil
	case "age_seconds":
		return &odFunc{name: s, arity: 1, typ: "float64", eval: func(in []any, now time.Time) any {
			return now.Sub(in[0].(time.Time)).Seconds()
		}}, nil
	}
	body, ok := strings.CutPrefix(s, "tier(")
	if !ok || !strings.HasSuffix(body, ")") {
		return nil, fmt.Errorf("unknown function %q (want purchase_tier, tier(...), ratio, sum, diff, log1p or age_seconds)", s)
	}
	parts := strings.Split(strings.TrimSuffix(body, ")"), ",")
	var steps []tierStep
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i == len(parts)-1 {
			if !validLabel(p) || strings.Contains(p, ":") {
				return nil, fmt.Errorf("tier: the last argument must be the default label, got %q", p)
			}
			els := p
			return &odFunc{name: "tier", arity: 1, typ: "string", eval: func(in []any, _ time.Time) any {
				x := in[0].(float64)
				for _, st := range steps {
					if x > st.over {
						return st.label
					}
				}
				return els
			}}, nil
		}
		th, label, ok := strings.Cut(p, ":")
		v, err := strconv.ParseFloat(strings.TrimSpace(th), 64)
		label = strings.TrimSpace(label)
		if !ok || err != nil || math.IsNaN(v) || !validLabel(label) {
			return nil, fmt.Errorf("tier: %q is not threshold:label", p)
		}
		steps = append(steps, tierStep{v, label})
	}
	return nil, fmt.Errorf("tier: needs at least a default label")
}

func validLabel(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
