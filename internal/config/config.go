// Package config is reco's configuration: the reco.yaml file format, the
// RECO_* environment variables and the command-line flags that override it
// (flags win over the environment, which wins over the file). Every key has
// one dotted name (event_log.type), one variable (RECO_EVENT_LOG_TYPE) and
// one flag (--event-log-type). An unknown key or a bad value is an error
// that names the key.
//
// The binary turns a Config into each package's own options; library
// packages never import this one.
package config

import (
	"errors"
	"math"
	"strconv"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/experiment"
	"github.com/recohq/reco/internal/featureview"

	"fmt"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration. Zero values mean the embedded defaults.
type Config struct {
	Addr         string                  `yaml:"addr" help:"HTTP listen address"`
	DataDir      string                  `yaml:"data_dir" help:"directory for the log, checkpoints and models"`
	LogLevel     string                  `yaml:"log_level" help:"debug, info, warn or error"`
	Role         string                  `yaml:"role" help:"all, api (serve only) or stream (consume only); api and stream need event_log.type kafka"`
	EventLog     EventLog                `yaml:"event_log"`
	OnlineStore  OnlineStore             `yaml:"online_store"`
	OfflineStore OfflineStore            `yaml:"offline_store"`
	Analytics    Analytics               `yaml:"analytics"`
	Auth         Auth                    `yaml:"auth"`
	Experiments  []experiment.Experiment `yaml:"experiments"`
	Train        Train                   `yaml:"train"`
	Features     Features                `yaml:"features"`
	FeatureViews featureview.Config      `yaml:"feature_views"`
	Recommend    Recommend               `yaml:"recommend"`
	Limits       Limits                  `yaml:"limits"`
}

// EventLog chooses and tunes the event bus.
type EventLog struct {
	Type          string   `yaml:"type" help:"embedded or kafka"`
	Partitions    int      `yaml:"partitions" help:"partitions of the log (fixed when created)"`
	Fsync         string   `yaml:"fsync" help:"always, interval or never"`
	FsyncInterval Duration `yaml:"fsync_interval" help:"fsync period when fsync is interval"`
	Retention     Duration `yaml:"retention" help:"how long log segments are kept"`
	SegmentBytes  int64    `yaml:"segment_bytes" help:"segment file size"`
	Brokers       []string `yaml:"brokers" help:"Kafka brokers host:port"`
	Topic         string   `yaml:"topic" help:"Kafka topic"`
	Group         string   `yaml:"group" help:"Kafka consumer group of the stream workers"`
	// TLS and SASL are passed through to the Kafka client.
	TLS            bool     `yaml:"tls" help:"connect to Kafka over TLS"`
	TLSCAFile      string   `yaml:"tls_ca_file" help:"PEM file of the CAs to trust for Kafka TLS (default: the system's)"`
	SASLMechanism  string   `yaml:"sasl_mechanism" help:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)"`
	SASLUser       string   `yaml:"sasl_user" help:"Kafka SASL user"`
	SASLPassword   string   `yaml:"sasl_password" help:"Kafka SASL password"`
	SessionTimeout Duration `yaml:"session_timeout" help:"how long a dead stream worker keeps its partitions"`
	ProduceTimeout Duration `yaml:"produce_timeout" help:"how long ingest waits for Kafka to acknowledge a batch before answering 503 (at least 1s; 0: 10s)"`
	// An event whose event_id was seen for the same user this recently
	// (in ingest time) is a client's retry and is counted once.
	DedupeWindow  Duration `yaml:"dedupe_window" help:"how long an event_id is remembered to drop retried events"`
	DedupeMaxKeys int      `yaml:"dedupe_max_keys" help:"event_ids remembered per partition at most (older ones are forgotten early)"`
}

// OnlineStore chooses the online feature store.
type OnlineStore struct {
	Type               string   `yaml:"type" help:"embedded or redis"`
	Addresses          []string `yaml:"addresses" help:"Redis addresses; more than one means Redis Cluster"`
	Prefix             string   `yaml:"prefix" help:"prefix of every Redis key (several deployments can share a Redis)"`
	CheckpointInterval Duration `yaml:"checkpoint_interval" help:"how often the embedded state is checkpointed"`
}

// OfflineStore chooses the offline feature store.
type OfflineStore struct {
	Type      string `yaml:"type" help:"local or s3"`
	Path      string `yaml:"path" help:"directory for local (default under data_dir)"`
	Bucket    string `yaml:"bucket" help:"S3 bucket"`
	Endpoint  string `yaml:"endpoint" help:"S3 endpoint host:port"`
	AccessKey string `yaml:"access_key" help:"S3 access key"`
	SecretKey string `yaml:"secret_key" help:"S3 secret key"`
	Region    string `yaml:"region" help:"S3 region"`
	Secure    bool   `yaml:"secure" help:"use TLS to S3"`
}

// Analytics chooses where analytics go.
type Analytics struct {
	Type     string `yaml:"type" help:"embedded or clickhouse"`
	URL      string `yaml:"url" help:"ClickHouse HTTP URL"`
	Database string `yaml:"database" help:"ClickHouse database"`
}

// Auth holds API keys. Empty lists leave the endpoints open.
type Auth struct {
	IngestKeys []string `yaml:"ingest_keys" help:"keys accepted for POST /v1/events and PUT /v1/products"`
	AdminKeys  []string `yaml:"admin_keys" help:"keys accepted for admin endpoints"`
}

// Train configures training.
type Train struct {
	Schedule          string             `yaml:"schedule" help:"cron schedule of the built-in retrain, e.g. '0 2 * * *'"`
	Objective         string             `yaml:"objective" help:"binary:logistic or rank:ndcg"`
	AttributionWindow Duration           `yaml:"attribution_window" help:"how long after a served list a click, cart or purchase labels it"`
	LabelWeights      map[string]float64 `yaml:"label_weights" help:"grades of click, add_to_cart and purchase"`
	Rounds            int                `yaml:"rounds" help:"boosting rounds (n_estimators); 0: 200"`
	MaxDepth          int                `yaml:"max_depth" help:"tree depth; 0: 8"`
	Eta               float64            `yaml:"eta" help:"learning rate; 0: 0.1"`
	SimilarItems      bool               `yaml:"similar_items" help:"build the EASE similar-items candidate table when training"`
}

// Features tunes the feature definitions.
type Features struct {
	AffinityHalfLife   Duration           `yaml:"affinity_half_life" help:"half-life of category affinity"`
	PopularityHalfLife Duration           `yaml:"popularity_half_life" help:"half-life of popularity_score"`
	TrendingHalfLife   Duration           `yaml:"trending_half_life" help:"half-life of the trending signal"`
	Weights            map[string]float64 `yaml:"weights" help:"behaviour weights by event type"`
}

// Recommend tunes the request path.
type Recommend struct {
	MaxPerCategory     int      `yaml:"max_per_category" help:"diversity cap per category (negative: none)"`
	RepeatPurchase     bool     `yaml:"repeat_purchase" help:"recommend items the user bought before (consumables); off: never"`
	PromotedBoost      float64  `yaml:"promoted_boost" help:"score multiplier of promoted products"`
	MarginWeight       float64  `yaml:"margin_weight" help:"score boost per unit of margin"`
	MaxResults         int      `yaml:"max_results" help:"largest num_recommendations"`
	Timeout            Duration `yaml:"timeout" help:"request deadline"`
	PrecomputeSchedule string   `yaml:"precompute_schedule" help:"cron schedule of the batch precomputation of every active user's top 20 (served when the live path cannot be); empty = off"`
	Budgets            Budgets  `yaml:"budgets"`
}

// Budgets are the time budgets of a recommend request's stages, inside
// recommend.timeout; a stage that fails or runs out of time is replaced by
// its fallback. Zero means a share of recommend.timeout: 30% each for
// features, candidates and scoring, 10% for rerank (15, 15, 15 and 5 ms of
// the default 50 ms).
type Budgets struct {
	Features   Duration `yaml:"features" help:"user and product feature reads together; late: local feature cache, then precomputed or popular (0: 30% of recommend.timeout)"`
	Candidates Duration `yaml:"candidates" help:"candidate sources, run concurrently; a late source is dropped from the request (0: 30% of recommend.timeout)"`
	Scoring    Duration `yaml:"scoring" help:"model scoring; late: the rule-based ranker (0: 30% of recommend.timeout)"`
	Rerank     Duration `yaml:"rerank" help:"business rules, popular fill and explanations (0: 10% of recommend.timeout)"`
}

// Resolve returns b with each zero replaced by its share of timeout.
func (b Budgets) Resolve(timeout Duration) Budgets {
	share := func(d *Duration, pct int64) {
		if *d == 0 {
			*d = timeout * Duration(pct) / 100
		}
	}
	share(&b.Features, 30)
	share(&b.Candidates, 30)
	share(&b.Scoring, 30)
	share(&b.Rerank, 10)
	return b
}

// budgetErrors reports negative budgets and budgets that add up to more
// than the request deadline, each naming its key.
func (r Recommend) budgetErrors() []error {
	var errs []error
	for _, k := range []struct {
		key string
		d   Duration
	}{{"features", r.Budgets.Features}, {"candidates", r.Budgets.Candidates}, {"scoring", r.Budgets.Scoring}, {"rerank", r.Budgets.Rerank}} {
		if k.d < 0 {
			errs = append(errs, fmt.Errorf("recommend.budgets.%s: must not be negative", k.key))
		}
	}
	if b := r.Budgets.Resolve(r.Timeout); len(errs) == 0 && r.Timeout > 0 && b.Features+b.Candidates+b.Scoring+b.Rerank > r.Timeout {
		errs = append(errs, fmt.Errorf("recommend.budgets: features %s + candidates %s + scoring %s + rerank %s exceed recommend.timeout %s",
			b.Features, b.Candidates, b.Scoring, b.Rerank, r.Timeout))
	}
	return errs
}

// Limits bound requests.
type Limits struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes" help:"largest request body"`
	MaxBatch     int   `yaml:"max_batch" help:"most events or products in one request"`
	// Admission control: an adaptive concurrency limit per endpoint; what
	// is beyond it is shed with 503 + Retry-After, low priority first
	// (X-Priority: high|normal|low).
	Admission        bool     `yaml:"admission" help:"shed load beyond an adaptive concurrency limit"`
	RecommendLatency Duration `yaml:"recommend_latency" help:"latency above which the recommend limit shrinks"`
	IngestLatency    Duration `yaml:"ingest_latency" help:"latency above which the ingest limit shrinks"`
	AdmissionMax     int      `yaml:"admission_max" help:"largest concurrency limit"`
	OverloadFallback bool     `yaml:"overload_fallback" help:"recommend requests beyond the limit (normal and high priority) get precomputed or popular items instead of 503"`
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Addr:     "127.0.0.1:8080",
		DataDir:  "./reco-data",
		LogLevel: "info",
		Role:     "all",
		EventLog: EventLog{Type: "embedded", Partitions: 8, Fsync: "always", FsyncInterval: Duration(100 * time.Millisecond),
			Retention: Duration(7 * 24 * time.Hour), SegmentBytes: 64 << 20, Topic: "user-events",
			DedupeWindow: Duration(10 * time.Minute), DedupeMaxKeys: 1_000_000},
		OnlineStore:  OnlineStore{Type: "embedded", Prefix: "reco:", CheckpointInterval: Duration(60 * time.Second)},
		OfflineStore: OfflineStore{Type: "local", Region: "us-east-1"},
		Analytics:    Analytics{Type: "embedded", Database: "reco"},
		Features: Features{AffinityHalfLife: Duration(14 * 24 * time.Hour), PopularityHalfLife: Duration(7 * 24 * time.Hour),
			TrendingHalfLife: Duration(24 * time.Hour)},
		Recommend: Recommend{MaxPerCategory: 3, PromotedBoost: 1.1, MaxResults: 100, Timeout: Duration(50 * time.Millisecond),
			PrecomputeSchedule: "0 3 * * *"},
		Limits: Limits{MaxBodyBytes: 16 << 20, MaxBatch: 10000, Admission: true,
			RecommendLatency: Duration(50 * time.Millisecond), IngestLatency: Duration(500 * time.Millisecond), AdmissionMax: 500,
			OverloadFallback: true},
		Train: Train{Objective: "binary:logistic", AttributionWindow: Duration(time.Hour), SimilarItems: true},
	}
}

// Validate reports every bad value, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	if c.Addr == "" {
		bad("addr", "must not be empty")
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf("event_log.type", c.EventLog.Type, "embedded", "kafka")
	oneOf("event_log.fsync", c.EventLog.Fsync, "always", "interval", "never")
	if c.EventLog.Partitions < 1 || c.EventLog.Partitions > 1024 {
		bad("event_log.partitions", "%d is not between 1 and 1024", c.EventLog.Partitions)
	}
	if c.EventLog.Retention <= 0 {
		bad("event_log.retention", "must be positive")
	}
	if c.EventLog.SegmentBytes < 1<<16 {
		bad("event_log.segment_bytes", "%d is below 65536", c.EventLog.SegmentBytes)
	}
	if c.EventLog.Type == "kafka" && len(c.EventLog.Brokers) == 0 {
		bad("event_log.brokers", "required when event_log.type is kafka")
	}
	oneOf("role", c.Role, "all", "api", "stream")
	if c.Role != "all" && c.EventLog.Type != "kafka" {
		bad("role", "%q needs event_log.type kafka (the embedded log is read by the process that writes it)", c.Role)
	}
	if c.EventLog.Type == "kafka" && c.OnlineStore.Type != "redis" {
		bad("online_store.type", "must be redis when event_log.type is kafka (stream workers and API replicas share the features there)")
	}
	if c.EventLog.SASLMechanism != "" && !slices.Contains([]string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, strings.ToUpper(c.EventLog.SASLMechanism)) {
		bad("event_log.sasl_mechanism", "%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.EventLog.SASLMechanism)
	}
	if c.EventLog.DedupeWindow <= 0 {
		bad("event_log.dedupe_window", "must be positive")
	}
	if c.EventLog.DedupeMaxKeys < 1000 {
		bad("event_log.dedupe_max_keys", "%d is below 1000", c.EventLog.DedupeMaxKeys)
	}
	if c.EventLog.ProduceTimeout != 0 && c.EventLog.ProduceTimeout < Duration(time.Second) {
		bad("event_log.produce_timeout", "must be at least 1s (the Kafka client's floor)")
	}
	if c.EventLog.SessionTimeout < 0 {
		bad("event_log.session_timeout", "must not be negative")
	}
	oneOf("online_store.type", c.OnlineStore.Type, "embedded", "redis")
	if c.OnlineStore.Type == "redis" && len(c.OnlineStore.Addresses) == 0 {
		bad("online_store.addresses", "required when online_store.type is redis")
	}
	if c.OnlineStore.CheckpointInterval <= 0 {
		bad("online_store.checkpoint_interval", "must be positive")
	}
	oneOf("offline_store.type", c.OfflineStore.Type, "local", "s3")
	if c.OfflineStore.Type == "s3" {
		if c.OfflineStore.Bucket == "" {
			bad("offline_store.bucket", "required when offline_store.type is s3")
		}
		if c.OfflineStore.Endpoint == "" {
			bad("offline_store.endpoint", "required when offline_store.type is s3")
		}
	}
	oneOf("analytics.type", c.Analytics.Type, "embedded", "clickhouse")
	if c.Analytics.Type == "clickhouse" && c.Analytics.URL == "" {
		bad("analytics.url", "required when analytics.type is clickhouse")
	}
	for name, d := range map[string]Duration{"features.affinity_half_life": c.Features.AffinityHalfLife,
		"features.popularity_half_life": c.Features.PopularityHalfLife, "features.trending_half_life": c.Features.TrendingHalfLife,
		"recommend.timeout": c.Recommend.Timeout} {
		if d <= 0 {
			bad(name, "must be positive")
		}
	}
	for k, w := range c.Features.Weights {
		if !slices.Contains([]string{"view", "click", "add_to_cart", "remove_from_cart", "purchase", "review"}, k) {
			bad("features.weights."+k, "not an event type")
		} else if w < 0 {
			bad("features.weights."+k, "must be >= 0")
		}
	}
	if c.Recommend.MaxResults < 1 || c.Recommend.MaxResults > 1000 {
		bad("recommend.max_results", "%d is not between 1 and 1000", c.Recommend.MaxResults)
	}
	if c.Recommend.PromotedBoost <= 0 {
		bad("recommend.promoted_boost", "must be positive")
	}
	errs = append(errs, c.Recommend.budgetErrors()...)
	if c.Limits.MaxBodyBytes < 1024 {
		bad("limits.max_body_bytes", "must be at least 1024")
	}
	if c.Limits.Admission && (c.Limits.RecommendLatency <= 0 || c.Limits.IngestLatency <= 0) {
		bad("limits.recommend_latency", "and limits.ingest_latency must be positive with admission on")
	}
	if c.Limits.Admission && (c.Limits.AdmissionMax < 4 || c.Limits.AdmissionMax > 100000) {
		bad("limits.admission_max", "%d is not between 4 and 100000", c.Limits.AdmissionMax)
	}
	if c.Limits.MaxBatch < 1 {
		bad("limits.max_batch", "must be at least 1")
	}
	oneOf("train.objective", c.Train.Objective, "binary:logistic", "rank:ndcg")
	if c.Train.Rounds < 0 || c.Train.Rounds > 10000 {
		bad("train.rounds", "%d is not between 0 and 10000", c.Train.Rounds)
	}
	if c.Train.MaxDepth < 0 || c.Train.MaxDepth > 16 {
		bad("train.max_depth", "%d is not between 0 and 16", c.Train.MaxDepth)
	}
	if c.Train.Eta < 0 || c.Train.Eta > 1 {
		bad("train.eta", "%v is not between 0 and 1", c.Train.Eta)
	}
	if c.Train.AttributionWindow <= 0 {
		bad("train.attribution_window", "must be positive")
	}
	for k, w := range c.Train.LabelWeights {
		switch {
		case k != "click" && k != "add_to_cart" && k != "purchase":
			bad("train.label_weights."+k, "not click, add_to_cart or purchase")
		case w <= 0 || w > 31:
			bad("train.label_weights."+k, "must be in (0, 31]")
		}
	}
	if c.Recommend.PrecomputeSchedule != "" {
		if _, err := ParseSchedule(c.Recommend.PrecomputeSchedule); err != nil {
			bad("recommend.precompute_schedule", "%v", err)
		}
	}
	if c.Train.Schedule != "" {
		if _, err := ParseSchedule(c.Train.Schedule); err != nil {
			bad("train.schedule", "%v", err)
		}
	}
	seen := map[string]bool{}
	for i := range c.Experiments {
		e := &c.Experiments[i]
		e.Normalize()
		if err := e.Validate(); err != nil {
			var re *reco.Error
			if errors.As(err, &re) {
				err = re.Err
			}
			// Each joined problem reads "field: message"; it becomes
			// "experiments[0].field: message".
			for _, one := range splitJoined(err) {
				field, msg, ok := strings.Cut(one.Error(), ": ")
				if !ok || strings.ContainsAny(field, " \n") {
					field, msg = "", one.Error()
				}
				key := fmt.Sprintf("experiments[%d]", i)
				if field != "" {
					key += "." + field
				}
				errs = append(errs, fmt.Errorf("%s: %s", key, msg))
			}
		}
		if seen[e.ID] {
			bad(fmt.Sprintf("experiments[%d].id", i), "duplicate id %q", e.ID)
		}
		seen[e.ID] = true
	}
	return errors.Join(errs...)
}

// splitJoined returns the errors an errors.Join holds, or err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []error{err}
}

// Duration is a time.Duration written as text: Go's units plus "d" for days.
type Duration time.Duration

// ParseDuration parses "90s", "1h30m" or "7d".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		days, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || days < 0 || math.IsInf(days, 0) || math.IsNaN(days) {
			return 0, fmt.Errorf("bad duration %q (want e.g. 500ms, 10s, 2h, 7d)", s)
		}
		return Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 500ms, 10s, 2h, 7d)", s)
	}
	return Duration(d), nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes a Duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
