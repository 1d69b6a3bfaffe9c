// Package metrics turns the hooks of reco's packages into Prometheus series.
// Domain packages never import Prometheus; they expose Hooks, and this
// package fills them. Each Metrics has its own registry, so several servers
// can run in one process (tests).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every series.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPDuration     *prometheus.HistogramVec
	Stage            *prometheus.HistogramVec
	Fallbacks        *prometheus.CounterVec
	Candidates       *prometheus.CounterVec
	EventsIngested   *prometheus.CounterVec
	EventsRejected   *prometheus.CounterVec
	Products         prometheus.Counter
	StreamApplied    prometheus.Counter
	StreamDelay      prometheus.Histogram
	BadRecords       prometheus.Counter
	Duplicates       prometheus.Counter
	Checkpoints      *prometheus.CounterVec
	CheckpointDur    prometheus.Histogram
	LogAppend        prometheus.Histogram
	LogFsync         prometheus.Histogram
	LogTruncated     prometheus.Counter
	Impressions      prometheus.Counter
	ImpressionsDrop  prometheus.Counter
	AnalyticsDropped prometheus.Counter
	RedisWrites      *prometheus.CounterVec
	RedisWriteErrors prometheus.Counter
	LateEvents       prometheus.Counter
	FeatureRead      *prometheus.HistogramVec
	FeatureCoverage  *prometheus.HistogramVec
	BreakerOpen      *prometheus.GaugeVec
	Shed             *prometheus.CounterVec
	AdmissionLimit   *prometheus.GaugeVec
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// New registers every series in a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{r}
	return &Metrics{
		Registry: r,
		HTTPDuration: f.histVec("reco_http_request_duration_seconds", "HTTP request latency by route and status code.",
			latencyBuckets, "route", "code"),
		Stage: f.histVec("reco_recommend_stage_duration_seconds", "Time spent in each stage of a recommend request.",
			latencyBuckets, "stage"),
		Fallbacks:      f.counterVec("reco_recommend_fallbacks_total", "Recommend requests served by a fallback, by fallback.", "fallback"),
		Candidates:     f.counterVec("reco_candidates_total", "Candidates proposed, by source.", "source"),
		EventsIngested: f.counterVec("reco_events_ingested_total", "Events durably accepted, by event type.", "type"),
		EventsRejected: f.counterVec("reco_events_rejected_total", "Events refused, by reason.", "reason"),
		Products:       f.counter("reco_products_upserted_total", "Catalog entries accepted."),
		StreamApplied:  f.counter("reco_stream_records_applied_total", "Log records applied to the online state."),
		StreamDelay: f.hist("reco_stream_event_delay_seconds", "Time from an event's acknowledgement to its being applied to the features (feature freshness).",
			[]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}),
		BadRecords:      f.counter("reco_stream_bad_records_total", "Log records that could not be decoded and were skipped."),
		Duplicates:      f.counter("reco_stream_duplicate_events_total", "Events dropped because their event_id was seen for the same user within event_log.dedupe_window (client retries)."),
		Checkpoints:     f.counterVec("reco_stream_checkpoints_total", "Checkpoints written, by result.", "result"),
		CheckpointDur:   f.hist("reco_stream_checkpoint_duration_seconds", "Time to write a checkpoint.", prometheus.ExponentialBuckets(.001, 2, 16)),
		LogAppend:       f.hist("reco_log_append_duration_seconds", "Time to append a batch to the event log (including fsync).", latencyBuckets),
		LogFsync:        f.hist("reco_log_fsync_duration_seconds", "Time of one fsync of the event log.", latencyBuckets),
		LogTruncated:    f.counter("reco_log_truncated_bytes_total", "Bytes of torn log tail truncated at start."),
		Impressions:     f.counter("reco_impressions_logged_total", "Served lists logged as impressions."),
		ImpressionsDrop: f.counter("reco_impressions_dropped_total", "Served lists not logged because the impression buffer was full or the log failed."),
		RedisWrites:     f.counterVec("reco_redis_writes_total", "Online store keys written to Redis, or refused because Redis already held a newer value (replay).", "result"),
		FeatureRead:     f.histVec("reco_feature_read_duration_seconds", "Online read latency of a feature view.", latencyBuckets, "view"),
		FeatureCoverage: f.histVec("reco_feature_coverage_ratio", "Share of the requested feature values present per read (SLO > 99%).",
			[]float64{.5, .8, .9, .95, .99, .999, 1}, "view"),
		BreakerOpen: func() *prometheus.GaugeVec {
			g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "reco_circuit_breaker_open", Help: "1 while calls to a dependency fail fast."}, []string{"dependency"})
			r.MustRegister(g)
			return g
		}(),
		Shed: f.counterVec("reco_admission_shed_total", "Requests shed by admission control (503), by route and priority.", "route", "priority"),
		AdmissionLimit: func() *prometheus.GaugeVec {
			g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "reco_admission_limit", Help: "The adaptive concurrency limit, by route."}, []string{"route"})
			r.MustRegister(g)
			return g
		}(),
		LateEvents:       f.counter("reco_window_late_events_total", "Events later than their window's close (past the allowed lateness), written to the late_events side output."),
		RedisWriteErrors: f.counter("reco_redis_write_errors_total", "Failed exports of changed state to Redis (retried)."),
		AnalyticsDropped: f.counter("reco_analytics_export_dropped_total", "Records the ClickHouse export dropped because its buffer was full."),
	}
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveHTTP records one HTTP request.
func (m *Metrics) ObserveHTTP(route string, code int, took time.Duration) {
	m.HTTPDuration.WithLabelValues(route, strconv.Itoa(code)).Observe(took.Seconds())
}

// GaugeFunc registers a gauge read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// GaugeVecFunc registers a labelled gauge whose values are read at scrape
// time: f returns the value for each label value.
func (m *Metrics) GaugeVecFunc(name, help, label string, f func() map[string]float64) {
	m.Registry.MustRegister(&funcCollector{desc: prometheus.NewDesc(name, help, []string{label}, nil), f: f})
}

type funcCollector struct {
	desc *prometheus.Desc
	f    func() map[string]float64
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.f() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, k)
	}
}

type factory struct{ r *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) hist(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}

func (f factory) histVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(h)
	return h
}
