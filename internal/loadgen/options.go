package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"
)

// Scenario names accepted by Options.Scenario.
const (
	ScenarioRecommend = "recommend"
	ScenarioEvents    = "events"
	ScenarioFreshness = "freshness"
	ScenarioMixed     = "mixed"
)

const (
	defaultDuration         = 10 * time.Second
	defaultWarmup           = 2 * time.Second
	defaultUsers            = 100_000
	defaultProducts         = 100_000
	defaultBatchSize        = 1_000
	defaultTimeout          = 2 * time.Second
	defaultFreshnessTimeout = 5 * time.Second
	defaultPrepareWorkers   = 4
	maxBatchSize            = 10_000 // the server's default per-batch limit
	maxSenders              = 5_000  // cap of the default MaxInFlight
	mixedBatchSize          = 100    // events per batch in the mixed scenario
	numCategories           = 50
	pollInterval            = 5 * time.Millisecond // freshness polling
)

// Options configures Run and Prepare. The zero value of each field means its
// default; Run needs at least BaseURL, Scenario and Rate, Prepare only BaseURL.
type Options struct {
	BaseURL  string        // e.g. "http://localhost:8080"; required
	Scenario string        // "recommend", "events", "freshness" or "mixed"; Run only
	Rate     float64       // arrival rate in requests/s; for "events" each request is one batch; Run only
	Duration time.Duration // measured part of the run; 0 means 10s
	Warmup   time.Duration // run before measuring, excluded from the Result; 0 means 2s, negative means none

	Users     int // user id space, ids "u000000".."u099999"; 0 means 100,000
	Products  int // product id space, ids "p000000"..; 0 means 100,000
	BatchSize int // events per POST /v1/events batch (scenario events and Prepare); 0 means 1,000, at most 10,000

	Timeout          time.Duration // per HTTP request; 0 means 2s
	FreshnessTimeout time.Duration // how long a freshness probe polls before giving up; 0 means 5s

	// MaxInFlight bounds the requests (freshness: probes) outstanding at once,
	// which is the size of the sender pool. 0 means Rate times the longest a
	// request can take (Timeout, or Timeout*2+FreshnessTimeout for a probe),
	// plus 16, capped at 5,000. A request due while MaxInFlight are
	// outstanding is counted as Late and not sent.
	MaxInFlight int

	// PrepareWorkers is how many batches Prepare sends concurrently; 0 means 4.
	PrepareWorkers int

	Seed int64 // seeds every random choice; runs with equal Options issue equal request sequences

	// Progress, if set, receives a line every second (Run: elapsed, sent, ok,
	// errors, late, p99 of the last second; Prepare: items loaded). It is
	// written from one goroutine at a time.
	Progress io.Writer

	// Phases, if set, split the measured time: Result.Phases has one Result
	// per phase, of the requests due in it. The first must start at 0.
	Phases []Phase

	// HTTPClient sends every request. nil means a client whose Transport keeps
	// as many idle connections per host as there are senders. Timeouts are
	// applied per request through the context, not via Client.Timeout.
	HTTPClient *http.Client
}

// Phase is a part of the measured time of a run, from At (counted from the
// end of the warmup) to the next phase's At, or to the end.
type Phase struct {
	Name string
	At   time.Duration
	// Enter, if set, is called when the phase begins (a failure injected,
	// say). The phases' Enter functions run in order on one goroutine of
	// their own: the schedule does not wait for them, and a slow one
	// delays the next. Run returns only after the one running has returned.
	Enter func()
}

func (o Options) withDefaults() Options {
	if o.Duration == 0 {
		o.Duration = defaultDuration
	}
	if o.Warmup == 0 {
		o.Warmup = defaultWarmup
	} else if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.Users == 0 {
		o.Users = defaultUsers
	}
	if o.Products == 0 {
		o.Products = defaultProducts
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.FreshnessTimeout == 0 {
		o.FreshnessTimeout = defaultFreshnessTimeout
	}
	if o.PrepareWorkers == 0 {
		o.PrepareWorkers = defaultPrepareWorkers
	}
	if o.MaxInFlight == 0 && o.Rate > 0 {
		n := math.Ceil(o.Rate*o.jobBudget().Seconds()) + 16
		o.MaxInFlight = int(math.Min(n, maxSenders))
	}
	return o
}

// jobBudget is the longest one scheduled request can keep a sender busy.
func (o Options) jobBudget() time.Duration {
	if o.Scenario == ScenarioFreshness {
		return 2*o.Timeout + o.FreshnessTimeout
	}
	return o.Timeout
}

// validate reports every problem at once. forRun adds the checks only Run needs.
func (o Options) validate(forRun bool) error {
	var errs []error
	if o.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if u, err := url.Parse(o.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	} else if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("BaseURL %q: want http(s)://host[:port]", o.BaseURL))
	}
	if forRun {
		switch o.Scenario {
		case ScenarioRecommend, ScenarioEvents, ScenarioFreshness, ScenarioMixed:
		default:
			errs = append(errs, fmt.Errorf("Scenario %q: want recommend, events, freshness or mixed", o.Scenario))
		}
		if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
			errs = append(errs, fmt.Errorf("Rate %v: want > 0", o.Rate))
		}
		if o.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("MaxInFlight %d < 0", o.MaxInFlight))
		}
		for i, p := range o.Phases {
			switch {
			case p.Name == "":
				errs = append(errs, fmt.Errorf("Phases[%d]: no name", i))
			case i == 0 && p.At != 0:
				errs = append(errs, fmt.Errorf("Phases[0] %s: starts at %v, want 0", p.Name, p.At))
			case i > 0 && p.At <= o.Phases[i-1].At:
				errs = append(errs, fmt.Errorf("Phases[%d] %s: starts at %v, not after %s", i, p.Name, p.At, o.Phases[i-1].Name))
			case o.Duration > 0 && p.At >= o.Duration:
				errs = append(errs, fmt.Errorf("Phases[%d] %s: starts at %v, not before the end (%v)", i, p.Name, p.At, o.Duration))
			}
		}
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("Duration %v < 0", o.Duration))
	}
	if o.Users < 0 {
		errs = append(errs, fmt.Errorf("Users %d < 0", o.Users))
	}
	if o.Products < 0 {
		errs = append(errs, fmt.Errorf("Products %d < 0", o.Products))
	}
	if o.BatchSize < 0 || o.BatchSize > maxBatchSize {
		errs = append(errs, fmt.Errorf("BatchSize %d: want 1..%d", o.BatchSize, maxBatchSize))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v < 0", o.Timeout))
	}
	if o.FreshnessTimeout < 0 {
		errs = append(errs, fmt.Errorf("FreshnessTimeout %v < 0", o.FreshnessTimeout))
	}
	if o.PrepareWorkers < 0 {
		errs = append(errs, fmt.Errorf("PrepareWorkers %d < 0", o.PrepareWorkers))
	}
	return errors.Join(errs...)
}

// newClient returns a client able to keep conns connections to one host open.
func newClient(conns int) (*http.Client, *http.Transport) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t}, t
}
