package config

import (
	"strings"
	"testing"
	"time"
)

func TestRecommendBudgets(t *testing.T) {
	ms := func(n int) Duration { return Duration(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name    string
		timeout Duration
		budgets Budgets
		want    Budgets // resolved, when valid
		wantErr string  // a substring of the error, when not
	}{
		{"defaults: shares of 50ms", ms(50), Budgets{}, Budgets{ms(15), ms(15), ms(15), ms(5)}, ""},
		{"shares of a longer timeout", ms(200), Budgets{}, Budgets{ms(60), ms(60), ms(60), ms(20)}, ""},
		{"one set, the others shares", ms(100), Budgets{Scoring: ms(10)}, Budgets{ms(30), ms(30), ms(10), ms(10)}, ""},
		{"negative", ms(50), Budgets{Rerank: -ms(1)}, Budgets{}, "recommend.budgets.rerank: must not be negative"},
		{"over the timeout", ms(50), Budgets{Features: ms(40)}, Budgets{}, "recommend.budgets: features 40ms + candidates 15ms + scoring 15ms + rerank 5ms exceed recommend.timeout 50ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Recommend.Timeout, c.Recommend.Budgets = tc.timeout, tc.budgets
			err := c.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Recommend.Budgets.Resolve(c.Recommend.Timeout); got != tc.want {
				t.Errorf("resolved %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRecommendBudgetsFromFile(t *testing.T) {
	c := Default()
	if err := Parse([]byte("recommend:\n  budgets: {features: 10ms, rerank: 2ms}\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Recommend.Budgets.Features.D() != 10*time.Millisecond || c.Recommend.Budgets.Rerank.D() != 2*time.Millisecond {
		t.Errorf("parsed %+v", c.Recommend.Budgets)
	}
	if err := Parse([]byte("recommend:\n  budgets: {scoring_ms: 10}\n"), &c); err == nil || !strings.Contains(err.Error(), "recommend.budgets.scoring_ms") {
		t.Errorf("unknown key: %v", err)
	}
}
