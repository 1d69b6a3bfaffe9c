// Package feature defines reco's features once for both paths: how an event
// updates a user's or a product's state (the stream path), and how the
// served feature values are computed from that state (the request path, and
// training's point-in-time replay). Everything here is pure: no I/O, no
// clocks except the times passed in.
//
// Storage lives in subpackages: memstore keeps the state in memory for a
// one-process deployment.
package feature
