// Package demo is a synthetic shop that drives reco through its public HTTP
// API: it uploads a catalog, sends shoppers' events and asks for
// recommendations, and it measures what happened from the client side.
//
// The world is generated from Options.Seed with math/rand/v2 PCG sources: a
// catalog with long-tail popularity, per-category prices, stock, margins and
// promotions, and users with hidden tastes (one to three preferred categories
// with weights and a preferred price level). Users browse in sessions
// (view → click → add_to_cart → purchase, with drop-offs that shrink when an
// item fits their taste) and ask for recommendations a few times a session,
// about one request per ten events. A served item is clicked with a
// probability that rises with how well it fits the user's hidden taste and
// falls with its position, so a recommender that learns the tastes from the
// events earns a clearly higher click-through rate than one that does not.
//
// What is deterministic for a given seed: the catalog, the users and their
// tastes, which users each worker simulates, and every decision a worker
// makes, given the same server responses (each worker draws from its own
// PCG stream, so goroutine scheduling does not change the world). What is
// not: the server's responses and their timing, hence the latencies, how far
// a time-bounded run gets, the event timestamps (wall-clock time), and the
// latency reservoir once it is full.
//
// The package is not a load-testing tool with think times or open-loop
// arrival rates: its workers act as fast as the server answers. It does not
// validate the server's answers beyond decoding them; it only counts error
// statuses and carries on. It gives up only when the server has been
// unreachable for more than five seconds.
package demo
