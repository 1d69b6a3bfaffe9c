package demo

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Counts are served recommendations and what the simulated users did with
// them, for the whole run, one experiment variant or one source.
type Counts struct {
	Lists        int64 // recommendation lists received (not kept per source)
	ListsClicked int64 // lists with at least one click (not kept per source)
	Served       int64 // items shown
	Clicks       int64 // shown items clicked
}

// CTR is Clicks / Served, 0 if nothing was served.
func (c Counts) CTR() float64 {
	if c.Served == 0 {
		return 0
	}
	return float64(c.Clicks) / float64(c.Served)
}

// ListCTR is ListsClicked / Lists, 0 if no lists.
func (c Counts) ListCTR() float64 {
	if c.Lists == 0 {
		return 0
	}
	return float64(c.ListsClicked) / float64(c.Lists)
}

// Report is what a run measured from the client side. In a Report from Run
// the maps are never nil; they belong to the caller.
type Report struct {
	Seed        int64
	Products    int // catalog size generated
	Categories  int
	Users       int
	Concurrency int

	ProductsUploaded  int           // catalog entries the server accepted
	CatalogUploadTime time.Duration // from start until the simulation began
	Duration          time.Duration // the whole run, upload included

	Events       int64            // events the server accepted (2xx)
	EventsPerSec float64          // Events over the simulation time (upload excluded)
	EventsByType map[string]int64 // accepted events by event_type
	Sessions     int64            // sessions started

	RecommendCalls int64   // successful POST /v1/recommend calls
	LatencyP50     float64 // client-measured recommend latency, ms
	LatencyP95     float64
	LatencyP99     float64
	LatencyMax     float64
	LatencySamples int // samples the percentiles were computed from (all calls, or a reservoir)

	Recommendations Counts            // all served lists; CTR = clicked served items / served items
	Variants        map[string]Counts // by "experiment/variant" from the responses' experiment field
	Sources         map[string]Counts // by each item's source; Served and Clicks only

	Purchases    int64   // accepted purchase events
	Revenue      float64 // sum of price × quantity over them
	RecPurchases int64   // purchases carrying a request_id
	RecRevenue   float64

	Errors       map[string]int64  // by HTTP status ("400", "503"), "network" or "bad_response"
	ErrorSamples map[string]string // the first message seen per Errors key

	ExampleUserID    string // a simulated user (string id) with the most accepted events
	ExampleProductID string // the product with the most accepted events
}

// Print writes the final summary and "where to look": curl commands against
// baseURL with a real simulated user id and product id.
func (r Report) Print(w io.Writer, baseURL string) {
	baseURL = strings.TrimRight(baseURL, "/")
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	rc := r.Recommendations

	p("reco demo: %s, seed %d, %d workers\n", r.Duration.Round(time.Millisecond), r.Seed, r.Concurrency)
	p("  catalog     %s products in %d categories uploaded in %s; %s users\n",
		num(int64(r.ProductsUploaded)), r.Categories, r.CatalogUploadTime.Round(time.Millisecond), num(int64(r.Users)))
	p("  events      %s sent (%s/s) in %s sessions", num(r.Events), num(int64(r.EventsPerSec)), num(r.Sessions))
	if len(r.EventsByType) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.EventsByType) {
			parts = append(parts, fmt.Sprintf("%s %s", k, num(r.EventsByType[k])))
		}
		p(": %s", strings.Join(parts, ", "))
	}
	p("\n")
	perRec := "-"
	if r.RecommendCalls > 0 {
		perRec = strconv.FormatFloat(float64(r.Events)/float64(r.RecommendCalls), 'f', 1, 64)
	}
	p("  recommend   %s calls (%s events per call); latency p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (client-measured, %s samples)\n",
		num(r.RecommendCalls), perRec, r.LatencyP50, r.LatencyP95, r.LatencyP99, r.LatencyMax, num(int64(r.LatencySamples)))
	p("  shown       %s recommendations, %s clicked: CTR %.2f%%; lists with a click %.1f%% of %s\n",
		num(rc.Served), num(rc.Clicks), 100*rc.CTR(), 100*rc.ListCTR(), num(rc.Lists))
	for _, k := range sortedKeys(r.Variants) {
		v := r.Variants[k]
		p("  variant     %-24s CTR %.2f%% (%s clicks / %s shown), lists with a click %.1f%% of %s\n",
			k, 100*v.CTR(), num(v.Clicks), num(v.Served), 100*v.ListCTR(), num(v.Lists))
	}
	for _, k := range sortedKeys(r.Sources) {
		v := r.Sources[k]
		p("  source      %-24s %s clicks / %s shown (CTR %.2f%%)\n", k, num(v.Clicks), num(v.Served), 100*v.CTR())
	}
	p("  purchases   %s, revenue %.2f; from recommendations %s, revenue %.2f\n",
		num(r.Purchases), r.Revenue, num(r.RecPurchases), r.RecRevenue)
	if len(r.Errors) == 0 {
		p("  errors      none\n")
	}
	for _, k := range sortedKeys(r.Errors) {
		p("  errors      %-12s %s (first: %s)\n", k, num(r.Errors[k]), r.ErrorSamples[k])
	}

	user, prod := r.ExampleUserID, r.ExampleProductID
	p("\nWhere to look (%s is a simulated user, %s a simulated product):\n", user, prod)
	p("  curl -s -X POST %s/v1/recommend -H 'Content-Type: application/json' -d '{\"user_id\":%q,\"num_recommendations\":10}'\n", baseURL, user)
	p("  curl -s %s/v1/users/%s/features\n", baseURL, url.PathEscape(user))
	p("  curl -s %s/v1/products/%s/features\n", baseURL, url.PathEscape(prod))
	p("  curl -s %s/metrics\n", baseURL)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}

// num formats n with thousands separators: 1234567 → "1,234,567".
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
