package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what Run measured after the warmup. Every request due in the
// measured window is either Sent or Late; every Sent request ends as OK or as
// one of Errors, and contributes one latency sample.
type Result struct {
	Scenario    string
	Rate        float64       // requested arrival rate, requests/s
	Duration    time.Duration // measured time: Options.Duration, or less if the run was cancelled
	Warmup      time.Duration // run before measuring
	MaxInFlight int           // size of the sender pool

	Sent   int64 // requests issued
	OK     int64 // 2xx responses (freshness: the probe's event was accepted)
	Errors int64 // non-2xx responses, transport errors and timeouts
	Late   int64 // requests not issued because MaxInFlight were outstanding at their due time

	// ErrorsByStatus counts Errors by HTTP status; key 0 means no response
	// arrived (connection error or Timeout).
	ErrorsByStatus map[int]int64

	Throughput   float64 // OK / Duration, per second
	Accepted     int64   // events the server reported accepted ("events" and "mixed")
	EventsPerSec float64 // Accepted / Duration

	// Latency of every sent request (OK or not), from its intended send time
	// to the end of its response. Exact nearest-rank percentiles.
	Samples                  int64
	P50, P95, P99, P999, Max time.Duration

	// Fallbacks counts OK recommend responses by their "fallback" field;
	// responses without one are not counted.
	Fallbacks map[string]int64

	Freshness *FreshnessResult // scenario "freshness" only
}

// FreshnessResult describes how long an accepted event took to become visible
// in GET /v1/users/{id}/features, measured from the arrival of its 202.
type FreshnessResult struct {
	Probes     int64 // probes whose event was accepted
	Visible    int64 // of those, probes whose click became visible
	NotVisible int64 // gave up after Options.FreshnessTimeout
	// Exact nearest-rank percentiles over the visible probes.
	P50, P95, P99, Max time.Duration
}

// Method describes how r was measured, in one line.
func (r Result) Method() string {
	warm := ""
	if r.Warmup > 0 {
		warm = fmt.Sprintf(" after %s warmup", r.Warmup)
	}
	return fmt.Sprintf("open loop at %s req/s for %s%s, latency from intended send time, exact percentiles over %d samples, at most %d in flight",
		strconv.FormatFloat(r.Rate, 'f', -1, 64), r.Duration.Round(time.Millisecond), warm, r.Samples, r.MaxInFlight)
}

// Print writes a human summary of r to w.
func (r Result) Print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario:    %s\n", r.Scenario)
	fmt.Fprintf(&b, "method:      %s\n", r.Method())
	fmt.Fprintf(&b, "requests:    sent %d, ok %d (%s), errors %d, late (not sent) %d\n",
		r.Sent, r.OK, pct(r.OK, r.Sent), r.Errors, r.Late)
	if len(r.ErrorsByStatus) > 0 {
		b.WriteString("errors:     ")
		for _, code := range slices.Sorted(maps.Keys(r.ErrorsByStatus)) {
			name := strconv.Itoa(code)
			if code == 0 {
				name = "no response"
			}
			fmt.Fprintf(&b, " %s: %d", name, r.ErrorsByStatus[code])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "throughput:  %.1f ok/s\n", r.Throughput)
	if r.Accepted > 0 {
		fmt.Fprintf(&b, "events:      %d accepted, %.0f events/s\n", r.Accepted, r.EventsPerSec)
	}
	fmt.Fprintf(&b, "latency:     p50 %s  p95 %s  p99 %s  p99.9 %s  max %s\n",
		fmtDur(r.P50), fmtDur(r.P95), fmtDur(r.P99), fmtDur(r.P999), fmtDur(r.Max))
	if len(r.Fallbacks) > 0 {
		b.WriteString("fallbacks:  ")
		for _, k := range slices.Sorted(maps.Keys(r.Fallbacks)) {
			fmt.Fprintf(&b, " %s: %d (%s)", k, r.Fallbacks[k], pct(r.Fallbacks[k], r.OK))
		}
		b.WriteString("\n")
	}
	if f := r.Freshness; f != nil {
		fmt.Fprintf(&b, "freshness:   %d probes, %d visible, %d not visible; p50 %s  p95 %s  p99 %s  max %s (from 202 to visible in user features)\n",
			f.Probes, f.Visible, f.NotVisible, fmtDur(f.P50), fmtDur(f.P95), fmtDur(f.P99), fmtDur(f.Max))
	}
	_, _ = io.WriteString(w, b.String())
}

func pct(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

// fmtDur prints d with about three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// jsonResult is the JSON form of Result: durations in milliseconds and
// seconds, lower-case keys.
type jsonResult struct {
	Scenario       string           `json:"scenario"`
	Method         string           `json:"method"`
	Rate           float64          `json:"rate"`
	DurationS      float64          `json:"duration_s"`
	WarmupS        float64          `json:"warmup_s"`
	MaxInFlight    int              `json:"max_in_flight"`
	Sent           int64            `json:"sent"`
	OK             int64            `json:"ok"`
	Errors         int64            `json:"errors"`
	Late           int64            `json:"late"`
	ErrorsByStatus map[int]int64    `json:"errors_by_status"`
	Throughput     float64          `json:"throughput"`
	Accepted       int64            `json:"accepted_events"`
	EventsPerSec   float64          `json:"events_per_sec"`
	Samples        int64            `json:"samples"`
	LatencyMS      jsonLatency      `json:"latency_ms"`
	Fallbacks      map[string]int64 `json:"fallbacks"`
	Freshness      *jsonFreshness   `json:"freshness,omitempty"`
}

type jsonLatency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

type jsonFreshness struct {
	Probes     int64   `json:"probes"`
	Visible    int64   `json:"visible"`
	NotVisible int64   `json:"not_visible"`
	P50MS      float64 `json:"p50_ms"`
	P95MS      float64 `json:"p95_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// JSON returns r as a JSON object with snake_case keys, durations as
// seconds (duration_s, warmup_s) or milliseconds (latency_ms, *_ms), and
// errors_by_status keyed by the status code as a string ("0": no response).
func (r Result) JSON() ([]byte, error) {
	j := jsonResult{
		Scenario: r.Scenario, Method: r.Method(), Rate: r.Rate,
		DurationS: r.Duration.Seconds(), WarmupS: r.Warmup.Seconds(), MaxInFlight: r.MaxInFlight,
		Sent: r.Sent, OK: r.OK, Errors: r.Errors, Late: r.Late,
		ErrorsByStatus: r.ErrorsByStatus, Throughput: r.Throughput,
		Accepted: r.Accepted, EventsPerSec: r.EventsPerSec, Samples: r.Samples,
		LatencyMS: jsonLatency{ms(r.P50), ms(r.P95), ms(r.P99), ms(r.P999), ms(r.Max)},
		Fallbacks: r.Fallbacks,
	}
	if j.ErrorsByStatus == nil {
		j.ErrorsByStatus = map[int]int64{}
	}
	if j.Fallbacks == nil {
		j.Fallbacks = map[string]int64{}
	}
	if f := r.Freshness; f != nil {
		j.Freshness = &jsonFreshness{f.Probes, f.Visible, f.NotVisible, ms(f.P50), ms(f.P95), ms(f.P99), ms(f.Max)}
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}
