// Package loadgen is the engine of `reco bench`: an open-loop HTTP load
// generator for the reco API (docs/API.md).
//
// Open loop means requests are issued at a constant arrival rate on a fixed
// schedule, whatever earlier requests are doing. Request i of a run is due at
// start + i/Rate, and its latency is measured from that intended send time,
// not from when it was actually written to the wire. A server that falls
// behind therefore shows its queueing delay in the percentiles instead of
// slowing the generator down (the "coordinated omission" a closed loop of
// workers suffers from).
//
// Requests are handed to a bounded pool of sender goroutines, grown on demand
// up to Options.MaxInFlight. A request whose due time comes while MaxInFlight
// requests are still outstanding is not sent; it is counted in Result.Late.
// The generator never waits for a free sender, which would silently turn it
// back into a closed loop.
//
// Scenarios:
//
//   - "recommend": POST /v1/recommend for a random user.
//   - "events": POST /v1/events with NDJSON batches of BatchSize events,
//     pre-generated before the clock starts.
//   - "freshness": POST one click for a never-seen user, then poll
//     GET /v1/users/{id}/features every 5 ms until the click is visible.
//   - "mixed": 90% recommend, 10% event batches of 100.
//
// Prepare loads a synthetic catalog and user history first, so that
// recommend runs against realistic state.
//
// Options.Phases split a run's measured time (before, during and after a
// failure, say): Result.Phases has one Result per phase, and each phase's
// Enter function, called as it begins, can inject the failure. A recommend
// response's "fallback" field may name several fallbacks, comma-separated;
// Result.Fallbacks counts each name. Capacity measures the goodput of a
// closed loop, the reference an overload run offers multiples of.
//
// The package is a client only: it does not start or inspect a server, and it
// does not retry. Latency percentiles are exact (every measured sample is
// kept and sorted), which costs 8 bytes per request.
package loadgen
