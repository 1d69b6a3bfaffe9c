// Package app assembles one reco process from its configuration: the event
// log, the stream processor, the online store, the recommender and the HTTP
// API, and runs them until its context ends. `reco serve`, `reco demo` and
// the end-to-end tests all start reco through it.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/recohq/reco/internal/analytics"
	"github.com/recohq/reco/internal/analytics/clickhouse"
	"github.com/recohq/reco/internal/breaker"
	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/dedupe"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/event/seglog"
	"github.com/recohq/reco/internal/experiment"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/redisstore"
	"github.com/recohq/reco/internal/featureview"
	"github.com/recohq/reco/internal/importer"
	"github.com/recohq/reco/internal/metrics"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/offlinecfg"
	"github.com/recohq/reco/internal/recommend"
	"github.com/recohq/reco/internal/rerank"
	"github.com/recohq/reco/internal/serve"
	"github.com/recohq/reco/internal/stream"
	"github.com/recohq/reco/internal/window"
)

// App is one running reco process.
type App struct {
	Config  config.Config
	Log     *seglog.Log // nil when the event log is Kafka
	Store   *memstore.Store
	Proc    *stream.Processor
	Rec     *recommend.Service
	Metrics *metrics.Metrics
	API     *serve.Server
	Logger  *slog.Logger

	Models      *modelManager
	Experiments *experiment.Registry
	Accum       *experiment.Accumulator
	Analytics   *analytics.Aggregator
	ClickHouse  *clickhouse.Sink  // nil unless analytics.type is clickhouse
	Redis       *redisstore.Store // nil unless online_store.type is redis
	Offline     *offline.Store
	Windows     *window.Aggregator
	Views       *featureview.Engine
	viewDefs    []featureview.View
	onDemand    []featureview.OnDemand

	KafkaLog *kafkalog.Log // nil unless event_log.type is kafka
	bus      bus           // the event log, whichever it is
	kafka    *kafkaWorkers // the stream side in Kafka mode (nil: a.Proc)

	// online is what serving reads: the embedded store, or Redis.
	online onlineReader
	pre    atomic.Pointer[precomputed]

	features feature.Options
	imps     chan *event.Impression
	now      func() time.Time
	started  time.Time
}

// Options adjust an App beyond its configuration (tests and the demo).
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// Open builds the process from cfg. It opens the log and restores the
// newest checkpoint but starts nothing; Run starts it.
func Open(cfg config.Config, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := metrics.New()
	a := &App{Config: cfg, Metrics: m, Logger: o.Logger, now: o.Now, imps: make(chan *event.Impression, 8192)}
	var err error
	if cfg.EventLog.Type == "kafka" {
		err = a.openKafka()
	} else {
		err = a.openEmbedded()
	}
	if err != nil {
		return nil, err
	}
	closeBus := func() { a.bus.Close() }
	a.features = featureOptions(cfg.Features)
	if a.viewDefs, a.onDemand, err = cfg.FeatureViews.ResolveFor(a.features, os.ReadFile); err != nil {
		closeBus()
		return nil, fmt.Errorf("feature_views: %w", err)
	}
	if _, err := featureview.New(a.viewDefs, a.onDemand, featureview.Options{}); err != nil {
		closeBus()
		return nil, fmt.Errorf("feature_views: %w", err)
	}
	octx, ocancel := context.WithTimeout(context.Background(), 10*time.Second)
	a.Offline, err = offlinecfg.Open(octx, cfg.OfflineStore, cfg.DataDir, a.breakerHook("s3"))
	ocancel()
	if err != nil {
		closeBus()
		return nil, fmt.Errorf("offline_store: %w", err)
	}
	// The declared views' history (written by a.Views) is in the offline store too.
	ov, err := featureview.OfflineViews(a.viewDefs)
	if err == nil {
		a.Offline, err = a.Offline.WithViews(ov...)
	}
	if err != nil {
		closeBus()
		return nil, fmt.Errorf("feature_views: offline history: %w", err)
	}
	if a.Log != nil {
		log := a.Log
		procOpts := a.procOptions(filepath.Join(cfg.DataDir, "state"), func() { a.Windows.Committed(); a.Views.Committed() })
		a.Proc = stream.New(logSource{log}, a.newState(), procOpts)
		if err := a.Proc.Recover(); err != nil {
			// A bad or outdated checkpoint is not fatal: the log is the source
			// of truth, as long as it still holds everything from offset 0.
			o.Logger.Warn("ignoring checkpoint, replaying the log from the start", "err", err)
			for p := 0; p < log.Partitions(); p++ {
				if log.StartOffset(p) > 0 {
					log.Close()
					return nil, fmt.Errorf("checkpoint unusable and the log no longer starts at 0 (partition %d): %w", p, err)
				}
			}
			a.Proc = stream.New(logSource{log}, a.newState(), procOpts)
		}
	} else {
		// Kafka: the partitions' processors start as the group assigns
		// them; what the API reads process-wide starts empty.
		a.newState()
		a.kafka = &kafkaWorkers{a: a, log: a.KafkaLog}
	}
	if a.Models, err = newModelManager(a); err != nil {
		closeBus()
		return nil, err
	}
	if err := a.openExperiments(); err != nil {
		closeBus()
		return nil, err
	}
	a.online = a.Store
	if cfg.OnlineStore.Type == "redis" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.Redis, err = redisstore.Open(ctx, redisstore.Options{Addresses: cfg.OnlineStore.Addresses, Prefix: cfg.OnlineStore.Prefix, Now: o.Now,
			Partitioned: a.kafka != nil, Features: a.features,
			OnBreaker: a.breakerHook("redis")})
		cancel()
		if err != nil {
			closeBus()
			return nil, fmt.Errorf("online_store: %w", err)
		}
		a.online = a.Redis
	}
	if cfg.Analytics.Type == "clickhouse" {
		a.ClickHouse, err = clickhouse.New(clickhouse.Options{URL: cfg.Analytics.URL, Database: cfg.Analytics.Database,
			Hooks: clickhouse.Hooks{
				OnDropped: func(n int) { m.AnalyticsDropped.Add(float64(n)) },
				// The sink fails fast while ClickHouse is down and probes
				// with backoff: a breaker by another name.
				OnError:   func(error) { a.breakerHook("clickhouse")(true) },
				OnFlushed: func(int, time.Duration) { a.breakerHook("clickhouse")(false) },
			}})
		if err != nil {
			closeBus()
			return nil, fmt.Errorf("analytics: %w", err)
		}
	}
	a.Rec = recommend.New(a.online, a, recommend.Options{
		Sources:     append(recommend.DefaultSources(a.online, cfg.Recommend.RepeatPurchase), similarSource{a.Models}),
		Features:    a.features,
		Rankers:     a.Models.For,
		Precomputed: a.Precomputed,
		MaxResults:  cfg.Recommend.MaxResults,
		Budgets:     recommendBudgets(cfg.Recommend),
		Rerank: rerank.Options{MaxPerCategory: cfg.Recommend.MaxPerCategory, PromotedBoost: cfg.Recommend.PromotedBoost,
			MarginWeight: cfg.Recommend.MarginWeight, AllowPurchased: cfg.Recommend.RepeatPurchase},
		Now: o.Now,
		Hooks: recommend.Hooks{
			OnStage:    func(stage string, took time.Duration) { m.Stage.WithLabelValues(stage).Observe(took.Seconds()) },
			OnDone:     func(took time.Duration) { a.Analytics.ObserveLatency(a.now(), took) },
			OnFallback: func(f string) { m.Fallbacks.WithLabelValues(f).Inc() },
			OnSource:   func(src string, n int) { m.Candidates.WithLabelValues(src).Add(float64(n)) },
		},
	})
	a.API = serve.New(a, a, a, serve.Options{
		MaxBodyBytes: cfg.Limits.MaxBodyBytes,
		MaxBatch:     cfg.Limits.MaxBatch,
		MaxResults:   cfg.Recommend.MaxResults,
		Timeout:      cfg.Recommend.Timeout.D(),
		Ready:        a.Ready,
		Models:       modelAdmin{a.Models},
		Experiments:  experimentAdmin{a},
		Analytics:    analytics.NewHandler(a.Analytics),
		FeatureViews: func() any { return a.Views.ViewsJSON(a.now()) },
		Admit:        a.admit(),
		IngestKeys:   cfg.Auth.IngestKeys,
		AdminKeys:    cfg.Auth.AdminKeys,
		Metrics:      m.Handler(),
		Logger:       o.Logger,
		Now:          o.Now,
		Hooks: serve.Hooks{
			OnRequest: m.ObserveHTTP,
			OnIngested: func(evs []event.Event) {
				for i := range evs {
					m.EventsIngested.WithLabelValues(evs[i].Type.String()).Inc()
				}
			},
			OnRejected: func(reason string, n int) { m.EventsRejected.WithLabelValues(reason).Add(float64(n)) },
			OnProducts: func(n int) { m.Products.Add(float64(n)) },
		},
	})
	a.registerGauges()
	a.loadPrecomputed()
	return a, nil
}

// openEmbedded opens the segment log under data_dir.
func (a *App) openEmbedded() error {
	cfg, m := a.Config, a.Metrics
	log, err := seglog.Open(seglog.Options{
		Dir:           filepath.Join(cfg.DataDir, "log"),
		Partitions:    cfg.EventLog.Partitions,
		SegmentBytes:  cfg.EventLog.SegmentBytes,
		Fsync:         cfg.EventLog.Fsync,
		FsyncInterval: cfg.EventLog.FsyncInterval.D(),
		Retention:     cfg.EventLog.Retention.D(),
		Hooks: seglog.Hooks{
			OnAppend:   func(_, _ int, took time.Duration) { m.LogAppend.Observe(took.Seconds()) },
			OnFsync:    func(took time.Duration) { m.LogFsync.Observe(took.Seconds()) },
			OnTruncate: func(p int, n int64) { m.LogTruncated.Add(float64(n)) },
		},
	})
	if err != nil {
		return fmt.Errorf("open event log: %w", err)
	}
	for _, t := range log.Recovered() {
		a.Logger.Warn("truncated a torn log tail after a crash", "detail", fmt.Sprintf("%+v", t))
	}
	a.Log, a.bus = log, segBus{log}
	return nil
}

// openKafka connects to the Kafka topic (creating it if missing).
func (a *App) openKafka() error {
	c, m := a.Config.EventLog, a.Metrics
	o := kafkalog.Options{
		Brokers: c.Brokers, Topic: c.Topic, Partitions: c.Partitions, Group: c.Group,
		SASLMechanism: c.SASLMechanism, SASLUser: c.SASLUser, SASLPassword: c.SASLPassword,
		SessionTimeout: c.SessionTimeout.D(), ProduceTimeout: c.ProduceTimeout.D(),
		Hooks: kafkalog.Hooks{
			OnBadRecord: func(p int32, off int64, err error) {
				m.BadRecords.Inc()
				a.Logger.Error("skipped a Kafka record that is not an event", "partition", p, "offset", off, "err", err)
			},
		},
	}
	if c.TLS {
		tc, err := tlsConfig(c.TLSCAFile)
		if err != nil {
			return fmt.Errorf("event_log.tls_ca_file: %w", err)
		}
		o.TLS = tc
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l, err := kafkalog.Open(ctx, o)
	if err != nil {
		return fmt.Errorf("event_log (kafka %s): %w", strings.Join(c.Brokers, ","), err)
	}
	a.KafkaLog, a.bus = l, kafkaBus{l, breaker.New(3, time.Second, nil, a.breakerHook("kafka"))}
	return nil
}

// tlsConfig trusts the CAs in caFile, or the system's when it is "".
func tlsConfig(caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tc.RootCAs = pool
	return tc, nil
}

// procOptions are a stream processor's options: checkpoints in dir, and
// metrics. committed runs after each durable checkpoint.
func (a *App) procOptions(dir string, committed func()) stream.Options {
	m := a.Metrics
	return stream.Options{
		Dir:                dir,
		CheckpointInterval: a.Config.OnlineStore.CheckpointInterval.D(),
		Hooks: stream.Hooks{
			OnApplied:   func(n int) { m.StreamApplied.Add(float64(n)) },
			OnFreshness: func(d time.Duration) { m.StreamDelay.Observe(d.Seconds()) },
			OnCheckpoint: func(took time.Duration, _ int64, err error) {
				if err != nil {
					m.Checkpoints.WithLabelValues("error").Inc()
					a.Logger.Error("checkpoint", "err", err)
					return
				}
				m.Checkpoints.WithLabelValues("ok").Inc()
				m.CheckpointDur.Observe(took.Seconds())
				committed() // e.g. window rows up to this checkpoint may now be written
			},
			OnBadRecord: func(p int, off int64, err error) {
				m.BadRecords.Inc()
				a.Logger.Error("skipped an undecodable log record", "partition", p, "offset", off, "err", err)
			},
		},
	}
}

// breakerHook sets reco_breaker_open{dependency} as a breaker opens and
// closes.
func (a *App) breakerHook(dependency string) func(open bool) {
	g := a.Metrics.BreakerOpen.WithLabelValues(dependency)
	return func(open bool) {
		if open {
			g.Set(1)
		} else {
			g.Set(0)
		}
	}
}

// Close releases what Open took, for commands that open an App without
// running it.
func (a *App) Close() error { return a.bus.Close() }

// recommendBudgets are the stage budgets of a recommend request:
// recommend.budgets, zeros resolved to their share of recommend.timeout.
func recommendBudgets(c config.Recommend) recommend.Budgets {
	b := c.Budgets.Resolve(c.Timeout)
	return recommend.Budgets{Features: b.Features.D(), Candidates: b.Candidates.D(), Scoring: b.Scoring.D(), Rerank: b.Rerank.D()}
}

// onlineReader is the read side of an online store.
type onlineReader interface {
	User(id string) (*feature.User, bool)
	Products(ids []string, out []*feature.Product)
	Index() *memstore.Index
	CoVisited(id string, n int) []memstore.Scored
}

// newState builds the empty state the stream processor keeps current: the
// online store and everything else derived from the log, checkpointed
// together.
func (a *App) newState() stream.State {
	a.Store = memstore.New(memstore.Options{Features: a.features, Now: a.now, TrackDirty: a.Config.OnlineStore.Type == "redis"})
	a.Accum = experiment.NewAccumulator(experiment.Options{})
	var err error
	if a.Analytics, err = analytics.New(analytics.Options{Now: a.now}); err != nil {
		panic(err) // only invalid options fail, and these are the defaults
	}
	if a.Windows, err = window.New(a.Offline, window.Options{Hooks: window.Hooks{
		OnLate: func(n int) { a.Metrics.LateEvents.Add(float64(n)) },
	}}); err != nil {
		panic(err) // only invalid options fail, and these are the defaults
	}
	if a.Views, err = featureview.New(a.viewDefs, a.onDemand, featureview.Options{Now: a.now, Offline: a.Offline, Hooks: featureview.Hooks{
		OnRead: func(view string, requested, present int, took time.Duration) {
			a.Metrics.FeatureRead.WithLabelValues(view).Observe(took.Seconds())
			if requested > 0 {
				a.Metrics.FeatureCoverage.WithLabelValues(view).Observe(float64(present) / float64(requested))
			}
		},
	}}); err != nil {
		panic(err) // the definitions were validated in Open
	}
	return &stream.Multi{Names: []string{"dedupe", "online", "experiments", "analytics", "windows", "views"},
		States: []stream.State{a.newDedupe(), a.Store, a.Accum, a.Analytics, a.Windows, a.Views}}
}

// newDedupe returns the filter that drops a client's retried events (same
// user and event_id within event_log.dedupe_window): the first part of
// every stream state, so the others never see a duplicate.
func (a *App) newDedupe() *dedupe.Filter {
	f, err := dedupe.New(dedupe.Options{
		Window:  a.Config.EventLog.DedupeWindow.D(),
		MaxKeys: a.Config.EventLog.DedupeMaxKeys,
		Skip:    importer.IsKey, // an import resumes by line on its own
		Hooks:   dedupe.Hooks{OnDuplicate: func(n int) { a.Metrics.Duplicates.Add(float64(n)) }},
	})
	if err != nil {
		panic(err) // the options were validated with the configuration
	}
	return f
}

func featureOptions(c config.Features) feature.Options {
	o := feature.Options{
		AffinityHalfLife:   c.AffinityHalfLife.D(),
		PopularityHalfLife: c.PopularityHalfLife.D(),
		TrendingHalfLife:   c.TrendingHalfLife.D(),
	}
	if len(c.Weights) > 0 {
		o.Weights = map[event.Type]float64{}
		for t, w := range feature.DefaultWeights {
			o.Weights[t] = w
		}
		for name, w := range c.Weights {
			if t, ok := event.ParseType(name); ok {
				o.Weights[t] = w
			}
		}
	}
	return o.WithDefaults()
}

func (a *App) registerGauges() {
	m := a.Metrics
	m.GaugeVecFunc("reco_stream_lag_records", "Records in the log not yet applied, per partition.", "partition", func() map[string]float64 {
		out := map[string]float64{}
		for p, l := range a.lag() {
			out[fmt.Sprint(p)] = float64(l)
		}
		return out
	})
	m.GaugeFunc("reco_feature_freshness_seconds", "Age of the newest event applied to the online features (since it was acknowledged); 0 when no event is waiting.", func() float64 {
		for _, l := range a.lag() {
			if l > 0 {
				st := a.Store.Stats()
				if st.LastIngested > 0 {
					return time.Since(time.UnixMilli(st.LastIngested)).Seconds()
				}
			}
		}
		return 0
	})
	m.GaugeVecFunc("reco_feature_view_freshness_seconds", "Age of the newest event applied to each feature view (SLO: user features < 5 min, product features < 1 h).", "view", func() map[string]float64 {
		out := map[string]float64{}
		for _, v := range a.viewDefs {
			if d, ok := a.Views.Freshness(v.Name, a.now()); ok {
				out[v.Name] = d.Seconds()
			}
		}
		return out
	})
	m.GaugeFunc("reco_ready", "1 once the log has been replayed.", func() float64 {
		if a.Ready() {
			return 1
		}
		return 0
	})
	if a.kafka != nil {
		m.GaugeFunc("reco_stream_partitions_owned", "Partitions of the Kafka topic this process's stream workers run.", func() float64 {
			if a.Config.Role == "api" {
				return 0
			}
			return float64(a.kafka.owned())
		})
		var lagMu sync.Mutex
		var lagAt time.Time
		var lagLast map[string]float64
		m.GaugeVecFunc("reco_kafka_group_lag_records", "Records of each Kafka partition beyond the consumer group's committed offset (the whole group's lag, whichever process owns the partition; refreshed at most every 5 s).", "partition", func() map[string]float64 {
			lagMu.Lock()
			defer lagMu.Unlock()
			if time.Since(lagAt) < 5*time.Second {
				return lagLast
			}
			lagAt = time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			lag, err := a.KafkaLog.CommittedLag(ctx)
			if err != nil {
				return lagLast // the brokers did not answer: the last known figures
			}
			lagLast = make(map[string]float64, len(lag))
			for p, n := range lag {
				lagLast[fmt.Sprint(p)] = float64(n)
			}
			return lagLast
		})
	}
	m.GaugeFunc("reco_users", "Users in the online store.", func() float64 { return float64(a.Store.Stats().Users) })
	m.GaugeFunc("reco_products", "Products in the online store.", func() float64 { return float64(a.Store.Stats().Products) })
}

// Ready reports whether the stream has applied the log as it stood when
// it started (in Kafka mode: every partition this process runs; an API
// replica is always ready).
func (a *App) Ready() bool {
	switch {
	case a.Proc != nil:
		return a.Proc.Ready()
	case a.Config.Role == "api":
		return true
	default:
		return a.kafka.ready()
	}
}

// lag returns the records not yet applied per partition this process
// applies.
func (a *App) lag() map[int]int64 {
	if a.Proc == nil {
		if a.Config.Role == "api" {
			return nil
		}
		return a.kafka.lag()
	}
	out := map[int]int64{}
	for p, l := range a.Proc.Lag() {
		out[p] = l
	}
	return out
}

// partitionOf maps a key to a log partition.
func partitionOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// IngestEvents appends events to the log, durably, partitioned by user.
func (a *App) IngestEvents(ctx context.Context, evs []event.Event) error {
	now := a.now().UnixMilli()
	n := a.bus.Partitions()
	recs := make([]busRecord, len(evs))
	buf := make([]byte, 0, 96*len(evs))
	for i := range evs {
		evs[i].Ingested = now
		start := len(buf)
		buf = event.AppendEvent(buf, &evs[i])
		recs[i] = busRecord{Partition: partitionOf(evs[i].UserID, n), Key: evs[i].UserID, Data: buf[start:len(buf):len(buf)]}
	}
	// buf may have moved while growing: re-slice every record from the final buffer.
	reslice(recs, buf)
	if err := a.bus.Append(ctx, recs); err != nil {
		return fmt.Errorf("ingest %d events: %w", len(evs), err)
	}
	return nil
}

// UpsertProducts appends catalog upserts to the log, partitioned by product.
func (a *App) UpsertProducts(ctx context.Context, ps []event.Product) error {
	n := a.bus.Partitions()
	recs := make([]busRecord, len(ps))
	var buf []byte
	for i := range ps {
		start := len(buf)
		buf = event.AppendProduct(buf, &ps[i])
		recs[i] = busRecord{Partition: partitionOf(ps[i].ID, n), Key: ps[i].ID, Data: buf[start:len(buf):len(buf)]}
	}
	reslice(recs, buf)
	if err := a.bus.Append(ctx, recs); err != nil {
		return fmt.Errorf("upsert %d products: %w", len(ps), err)
	}
	return nil
}

// reslice points each record at its bytes in the final buffer: the slices
// taken while appending may refer to an array that append later replaced.
func reslice(recs []busRecord, buf []byte) {
	pos := 0
	for i := range recs {
		n := len(recs[i].Data)
		recs[i].Data = buf[pos : pos+n : pos+n]
		pos += n
	}
}

// LogImpression queues a served list for the log. It never blocks: when
// the queue is full the impression is dropped and counted.
func (a *App) LogImpression(im *event.Impression) {
	select {
	case a.imps <- im:
	default:
		a.Metrics.ImpressionsDrop.Inc()
	}
}

func (a *App) writeImpressions(ctx context.Context) error {
	n := a.bus.Partitions()
	batch := make([]*event.Impression, 0, 512)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		recs := make([]busRecord, len(batch))
		var buf []byte
		for i, im := range batch {
			start := len(buf)
			buf = event.AppendImpression(buf, im)
			recs[i] = busRecord{Partition: partitionOf(im.UserID, n), Key: im.UserID, Data: buf[start:len(buf)]}
		}
		reslice(recs, buf)
		// The write outlives ctx: impressions already served are logged
		// during shutdown too.
		if err := a.bus.Append(context.Background(), recs); err != nil {
			a.Metrics.ImpressionsDrop.Add(float64(len(batch)))
			a.Logger.Error("log impressions", "n", len(batch), "err", err)
		} else {
			a.Metrics.Impressions.Add(float64(len(batch)))
		}
		batch = batch[:0]
	}
	for {
		select {
		case im := <-a.imps:
			batch = append(batch, im)
			// Take whatever else is waiting, then write once.
			for len(batch) < cap(batch) {
				select {
				case im := <-a.imps:
					batch = append(batch, im)
					continue
				default:
				}
				break
			}
			flush()
		case <-ctx.Done():
			for {
				select {
				case im := <-a.imps:
					batch = append(batch, im)
					if len(batch) == cap(batch) {
						flush()
					}
					continue
				default:
				}
				break
			}
			flush()
			return nil
		}
	}
}

// UserFeatures serves GET /v1/users/{id}/features.
func (a *App) UserFeatures(id string) (feature.UserFeatures, bool) {
	u, ok := a.online.User(id)
	if !ok {
		return feature.UserFeatures{}, false
	}
	return u.Features(), true
}

// ProductFeatures serves GET /v1/products/{id}/features.
func (a *App) ProductFeatures(id string) (feature.ProductFeatures, bool) {
	var ps [1]*feature.Product
	a.online.Products([]string{id}, ps[:])
	p := ps[0]
	if p == nil {
		return feature.ProductFeatures{}, false
	}
	return p.Features(a.now().UnixMilli(), &a.features), true
}

// Similar serves GET /v1/products/{id}/similar: co-visited in-stock items.
func (a *App) Similar(id string, n int) ([]recommend.Item, bool) {
	var self [1]*feature.Product
	a.online.Products([]string{id}, self[:])
	if self[0] == nil {
		return nil, false
	}
	nb := a.online.CoVisited(id, 4*n)
	ids := make([]string, len(nb))
	for i, s := range nb {
		ids[i] = s.ID
	}
	ps := make([]*feature.Product, len(ids))
	a.online.Products(ids, ps)
	var out []recommend.Item
	top := 0.0
	if len(nb) > 0 {
		top = nb[0].Score
	}
	for i, p := range ps {
		if p == nil || !p.InStock() || len(out) >= n {
			continue
		}
		price := max(p.Price, 0)
		out = append(out, recommend.Item{ProductID: p.ID, Score: nb[i].Score / top, Category: p.Category, Price: price,
			Source: "co_visitation", Reason: "often viewed together with " + id})
	}
	return out, true
}

// Run runs the process on ln until ctx ends, then shuts down gracefully:
// stop accepting, drain in-flight requests, log the last impressions,
// checkpoint, close the log.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	a.started = time.Now()
	srv := &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	procCtx, stopProc := context.WithCancel(context.Background())
	impCtx, stopImps := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	var procErr error
	embedded := a.Proc != nil
	if embedded {
		bg.Add(1)
		go func() { defer bg.Done(); procErr = a.Proc.Run(procCtx) }()
	} else if a.Config.Role != "api" {
		bg.Add(1)
		go func() { defer bg.Done(); procErr = a.kafka.run(procCtx) }()
	}
	winCtx, stopWin := context.WithCancel(context.Background())
	var winWG sync.WaitGroup
	winWG.Add(1)
	go func() { defer winWG.Done(); a.runWindows(winCtx) }()
	winWG.Add(1)
	go func() { defer winWG.Done(); a.runViewHistory(winCtx) }()
	var impWG sync.WaitGroup
	impWG.Add(1)
	go func() { defer impWG.Done(); a.writeImpressions(impCtx) }()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Models.watch(gctx) })
	if embedded {
		// In Kafka mode the state is per partition (kafka.go), and the
		// log's retention is Kafka's.
		g.Go(func() error { return a.refreshIndex(gctx) })
		g.Go(func() error { return a.retention(gctx) })
		g.Go(func() error { return a.snapshotProducts(gctx) })
	}
	if spec := a.Config.Recommend.PrecomputeSchedule; spec != "" && a.Config.Role != "api" {
		// Kafka: each stream worker precomputes its partitions' users
		// into Redis, where every API replica reads them.
		g.Go(func() error { return a.schedulePrecompute(gctx, spec) })
	}
	stopRedis := func() {}
	if a.Redis != nil {
		var wg sync.WaitGroup
		exCtx, stopEx := context.WithCancel(context.Background())
		if embedded {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.exportRedis(exCtx, a.Redis, 100*time.Millisecond, exportSource{store: a.Store, proc: a.Proc, partition: -1, partitions: a.bus.Partitions()})
			}()
		}
		g.Go(func() error { return a.refreshRedisIndex(gctx, a.Redis) })
		stopRedis = func() { stopEx(); wg.Wait(); a.Redis.Close() }
	}
	stopExport := func() {}
	if a.ClickHouse != nil && a.Config.Role != "api" {
		var wg sync.WaitGroup
		runCtx, stopRun := context.WithCancel(context.Background())
		feedCtx, stopFeed := context.WithCancel(context.Background())
		wg.Add(2)
		go func() { defer wg.Done(); a.ClickHouse.Run(runCtx) }()
		go func() { defer wg.Done(); a.feedClickHouse(feedCtx, a.ClickHouse, 32<<20) }()
		stopExport = func() {
			stopFeed() // stop reading the log, then write what is buffered
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.ClickHouse.Close(cctx)
			cancel()
			stopRun()
			wg.Wait()
		}
	}
	if spec := a.Config.Train.Schedule; spec != "" {
		g.Go(func() error { return a.Models.schedule(gctx, spec) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	err := g.Wait()
	stopImps()
	impWG.Wait()
	stopExport()
	stopProc()
	bg.Wait()
	stopRedis() // after the processor: the last export covers everything it applied
	stopWin()
	winWG.Wait()
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if ferr := a.Windows.Flush(fctx); ferr != nil {
		a.Logger.Warn("offline flush at shutdown; the next start writes it", "err", ferr)
	}
	if ferr := a.Views.Flush(fctx); ferr != nil {
		a.Logger.Warn("feature view history flush at shutdown; the next start writes it", "err", ferr)
	}
	fcancel()
	if procErr != nil && err == nil {
		err = procErr
	}
	if cerr := a.bus.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close log: %w", cerr)
	}
	return err
}

// refreshIndex rebuilds the popularity index every second, and as soon as
// the replay is done.
func (a *App) refreshIndex(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	fast := time.NewTicker(50 * time.Millisecond)
	defer fast.Stop()
	a.Store.RefreshIndex()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fast.C:
			if a.Proc.Ready() {
				a.Store.RefreshIndex()
				fast.Stop()
			}
		case <-t.C:
			a.Store.RefreshIndex()
		}
	}
}

func (a *App) retention(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := a.Log.EnforceRetention(); err != nil {
				a.Logger.Error("log retention", "err", err)
			} else if n > 0 {
				a.Logger.Info("log retention deleted segments", "segments", n)
			}
		}
	}
}

// WaitApplied blocks until everything appended to the log so far is
// applied to the online state (read-your-writes for tests and tools).
func (a *App) WaitApplied(ctx context.Context) error {
	offs := make([]int64, a.bus.Partitions())
	for p := range offs {
		offs[p] = a.bus.EndOffset(p)
	}
	if a.Proc == nil {
		if a.Config.Role == "api" {
			return nil
		}
		return a.kafka.waitApplied(ctx, offs)
	}
	return a.Proc.WaitFor(ctx, offs)
}

// logSource adapts the segment log to the stream processor.
type logSource struct{ l *seglog.Log }

func (s logSource) Partitions() int         { return s.l.Partitions() }
func (s logSource) EndOffset(p int) int64   { return s.l.EndOffset(p) }
func (s logSource) Commit(p int, off int64) { s.l.SetCommitted("stream", p, off) }
func (s logSource) Open(p int, from int64) (stream.Reader, error) {
	r, err := s.l.NewReader(p, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// EntityViews reads every feature view of an entity kind for one entity:
// each value with its status (present, missing, expired) and age.
func (a *App) EntityViews(entity, id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	now := a.now()
	for _, v := range a.viewDefs {
		if v.Entity != entity {
			continue
		}
		rows, err := a.Views.Get(v.Name, []string{id}, nil, now)
		if err != nil || len(rows) == 0 {
			continue
		}
		vals := map[string]any{}
		for i, f := range v.Features {
			if i < len(rows[0].Values) {
				vals[f.Name] = rows[0].Values[i]
			}
		}
		out[v.Name] = vals
	}
	return out
}
