package app

import (
	"net/http"
	"time"

	"github.com/recohq/reco/internal/admission"
)

// admit puts recommend and ingest behind adaptive concurrency limits:
// beyond them requests are shed (503, Retry-After) before they queue, low
// priority first; with limits.overload_fallback, recommend requests of
// normal and high priority beyond the limit get the cheap precomputed or
// popular answer instead.
func (a *App) admit() func(route string, h, overflow http.Handler) http.Handler {
	if !a.Config.Limits.Admission {
		return nil
	}
	limiters := map[string]*admission.Limiter{}
	for route, target := range map[string]float64{
		"recommend": a.Config.Limits.RecommendLatency.D().Seconds(),
		"events":    a.Config.Limits.IngestLatency.D().Seconds(),
		"products":  a.Config.Limits.IngestLatency.D().Seconds(),
	} {
		route := route
		l, err := admission.New(admission.Options{
			TargetLatency: secondsToDuration(target),
			Max:           a.Config.Limits.AdmissionMax,
			Initial:       min(20, a.Config.Limits.AdmissionMax),
			Hooks: admission.Hooks{
				OnShed:  func(p admission.Priority) { a.Metrics.Shed.WithLabelValues(route, p.String()).Inc() },
				OnLimit: func(n int) { a.Metrics.AdmissionLimit.WithLabelValues(route).Set(float64(n)) },
			},
		})
		if err != nil {
			panic(err) // the options are validated by the configuration
		}
		limiters[route] = l
	}
	return func(route string, h, overflow http.Handler) http.Handler {
		l := limiters[route]
		switch {
		case l == nil:
			return h
		case overflow != nil && a.Config.Limits.OverloadFallback:
			// A traffic spike gets precomputed or popular lists, not 503s,
			// while those stay fast: their own limiter aims at a fifth of
			// the recommend target, so they never take the cores from the
			// admitted requests.
			ol, err := admission.New(admission.Options{
				TargetLatency: a.Config.Limits.RecommendLatency.D() / 5,
				Max:           a.Config.Limits.AdmissionMax,
				Initial:       min(20, a.Config.Limits.AdmissionMax),
				Hooks: admission.Hooks{
					OnShed:  func(p admission.Priority) { a.Metrics.Shed.WithLabelValues("recommend_overflow", p.String()).Inc() },
					OnLimit: func(n int) { a.Metrics.AdmissionLimit.WithLabelValues("recommend_overflow").Set(float64(n)) },
				},
			})
			if err != nil {
				panic(err)
			}
			return l.WithOverflow(h, overflow, ol, nil)
		default:
			return l.Middleware(h, nil)
		}
	}
}

func secondsToDuration(s float64) time.Duration { return time.Duration(s * 1e9) }
