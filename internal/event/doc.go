// Package event defines what flows through reco's one log: user behaviour
// events, catalog updates and served impressions. It decodes and validates
// them from the API's JSON forms (one object, an array, or NDJSON) and
// encodes them compactly for the log.
//
// It does not store or move events: the log lives in event/seglog (embedded)
// or a bus adapter; the stream processor consumes them.
package event
