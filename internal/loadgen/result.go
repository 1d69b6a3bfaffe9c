package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
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

	// Latency of the OK responses alone (what was admitted and answered).
	OKP50, OKP95, OKP99, OKMax time.Duration

	// Fallbacks counts OK recommend responses by each fallback their
	// "fallback" field names (a comma-separated list counts once per
	// name); Degraded counts the responses that name any.
	Fallbacks map[string]int64
	Degraded  int64

	Freshness *FreshnessResult // scenario "freshness" only

	// Phases has one Result per Options.Phases, of the requests due in it;
	// Phase is its name there.
	Phases []Result
	Phase  string
}

// Availability is the share of the requests due that were answered with a
// 2xx: OK / (Sent + Late).
func (r Result) Availability() float64 { return ratio(r.OK, r.Sent+r.Late) }

// ErrorRate is the share of the requests sent that failed: Errors / Sent.
func (r Result) ErrorRate() float64 { return ratio(r.Errors, r.Sent) }

func ratio(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
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
	if r.Errors > 0 && r.OK > 0 {
		fmt.Fprintf(&b, "latency ok:  p50 %s  p95 %s  p99 %s  max %s (2xx only)\n",
			fmtDur(r.OKP50), fmtDur(r.OKP95), fmtDur(r.OKP99), fmtDur(r.OKMax))
	}
	if len(r.Fallbacks) > 0 {
		fmt.Fprintf(&b, "degraded:    %d (%s of ok)\n", r.Degraded, pct(r.Degraded, r.OK))
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
	if len(r.Phases) > 0 {
		b.WriteString("\n")
		PrintPhases(&b, r.Phases)
	}
	_, _ = io.WriteString(w, b.String())
}

// PrintPhases writes a table of one row per phase: requests due, OK,
// availability, error rate with the count of each status (none: no
// response), the share of OK responses degraded, latency percentiles of
// every request sent, and each fallback's share of the OK responses.
func PrintPhases(w io.Writer, phases []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tdue\tok\tavailability\terrors\tdegraded\tp50\tp95\tp99\tmax\tfallbacks (share of ok)")
	for _, p := range phases {
		errs := fmt.Sprintf("%.2f%%", 100*p.ErrorRate())
		for _, code := range slices.Sorted(maps.Keys(p.ErrorsByStatus)) {
			name := strconv.Itoa(code)
			if code == 0 {
				name = "none"
			}
			errs += fmt.Sprintf(" %s:%d", name, p.ErrorsByStatus[code])
		}
		fbs := "-"
		if len(p.Fallbacks) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(p.Fallbacks)) {
				parts = append(parts, fmt.Sprintf("%s %s", k, pct(p.Fallbacks[k], p.OK)))
			}
			fbs = strings.Join(parts, ", ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Phase, p.Sent+p.Late, p.OK, 100*p.Availability(), errs,
			pct(p.Degraded, p.OK), fmtDur(p.P50), fmtDur(p.P95), fmtDur(p.P99), fmtDur(p.Max), fbs)
	}
	tw.Flush()
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
	Availability   float64          `json:"availability"`
	ErrorRate      float64          `json:"error_rate"`
	Degraded       int64            `json:"degraded"`
	OKLatencyMS    jsonOKLatency    `json:"latency_ok_ms"`
	Phase          string           `json:"phase,omitempty"`
	Phases         []jsonResult     `json:"phases,omitempty"`
}

type jsonOKLatency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
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
	b, err := json.MarshalIndent(r.jsonResult(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// MarshalJSON encodes r as JSON does.
func (r Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.jsonResult()) }

func (r Result) jsonResult() jsonResult {
	j := jsonResult{
		Scenario: r.Scenario, Method: r.Method(), Rate: r.Rate,
		DurationS: r.Duration.Seconds(), WarmupS: r.Warmup.Seconds(), MaxInFlight: r.MaxInFlight,
		Sent: r.Sent, OK: r.OK, Errors: r.Errors, Late: r.Late,
		ErrorsByStatus: r.ErrorsByStatus, Throughput: r.Throughput,
		Accepted: r.Accepted, EventsPerSec: r.EventsPerSec, Samples: r.Samples,
		LatencyMS:    jsonLatency{ms(r.P50), ms(r.P95), ms(r.P99), ms(r.P999), ms(r.Max)},
		Fallbacks:    r.Fallbacks,
		Availability: r.Availability(), ErrorRate: r.ErrorRate(), Degraded: r.Degraded,
		OKLatencyMS: jsonOKLatency{ms(r.OKP50), ms(r.OKP95), ms(r.OKP99), ms(r.OKMax)},
		Phase:       r.Phase,
	}
	for _, p := range r.Phases {
		j.Phases = append(j.Phases, p.jsonResult())
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
	return j
}
