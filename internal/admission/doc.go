// Package admission sheds load before it queues. A Limiter holds an
// adaptive concurrency limit: how many requests may be in flight at once.
// A request that would exceed the limit for its Priority is refused at
// once, never queued, and Limiter.Middleware answers it with 503 and
// Retry-After before reading its body.
//
// # The limit
//
// The limit is learned from the latency of completed requests, in the
// spirit of TCP Vegas and Netflix's concurrency-limits Gradient2. Every
// Window (250 ms by default, extended until it holds at least MinSamples
// completions) the Limiter takes the 10th and 90th percentile of the
// window's latencies:
//
//   - baseline is the no-queue latency: the lowest window p10 seen. It
//     drifts up towards a higher p10 only in windows where the limit was not
//     what bounded concurrency (peak in-flight below half the limit) or the
//     limit sat at Min, so that a service that really got slower is
//     re-learned, but queueing that the limit itself allowed is not.
//   - threshold = min(TargetLatency, baseline*Tolerance).
//   - If p90 > threshold the limit is multiplied by threshold/p90, clamped
//     to [0.5, 0.9]: at least a 10% cut, at most a halving.
//   - Otherwise, if the window used the limit (peak in-flight at least half
//     of it), the limit grows by sqrt(limit). A limit that is not being used
//     is not raised, so a quiet period cannot leave a limit that admits a
//     burst far beyond what was ever measured.
//   - The limit stays within [Min, Max].
//
// A request released as failed is sampled only when it took longer than
// the threshold (a timeout is evidence of overload; a fast failure says
// nothing about capacity).
//
// # Priorities
//
// High requests may use the whole limit, Normal requests NormalShare of it
// (0.9), Low requests LowShare (0.7). As in-flight rises, Low is refused
// first, then Normal, then High; the headroom left for High is what lets it
// through during overload.
//
// The package is not a rate limiter (it never counts requests per second
// or per client), does not queue or retry, and does not look at request
// bodies: a priority must come from a header or from the caller.
package admission
