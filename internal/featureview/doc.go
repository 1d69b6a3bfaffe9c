// Package featureview is reco's declared feature views: the Feast part of
// the feature store. A View names an entity (user, product, user x
// category, category, session), a TTL and a schema of features, each an
// aggregation over behaviour events (count, sum, ratio, distinct_count,
// first, last, most_frequent, decayed_count, window_count, min, max, avg)
// or catalog upserts (stock). OnDemand features are computed at request
// time from other views' values (the case study's purchase_tier).
//
// One definition serves every path. The Engine is a stream.State: the
// stream processor applies the log to it and checkpoints it; serving reads
// it with Get and GetOnDemand; training reads history from the offline
// store (see History), or by replaying the log into an Engine up to a
// cutoff and calling Get with that cutoff as now (every read takes its
// clock as an argument).
//
// # History
//
// With Options.Offline set, the Engine keeps every view's history exactly
// once, as package window does: Apply marks the entities it changes (a
// flag, no allocation); Snapshot seals one row per marked entity into an
// epoch that is part of the snapshot: the entity key, the timestamp of its
// newest event (or upsert) in the view, and each feature as Get reads it
// at that time (missing is null). Committed marks sealed epochs durable;
// Run (or Flush) writes them to the offline store as batch
// "views-<epoch>" of view OfflineName(view), then forgets them. After a
// crash, Restore brings back the sealed epochs of the last durable
// checkpoint, and the same rows are rewritten under the same names. The
// history has one row per changed entity per checkpoint interval: a
// point-in-time join sees each entity as of its newest event before the
// last checkpoint at or before the join time, never a later event.
// OfflineViews gives the offline store the views' schemas.
//
// # Reads
//
// Get returns, for each (entity key, feature), the value and a status as
// Feast's Go server does: present; missing (unknown entity, or a feature
// with no observation and no default); expired (the entity's newest event
// is older than the view's TTL: the value reads as nil). Age is measured
// from the entity's newest event (or catalog upsert) time in the view to
// the reader's now. A value exactly TTL old is still present; one
// millisecond older is expired (Feast: age > ttl). TTL 0 never expires.
//
// # Bounds
//
// State per entity per view is a few float64 per feature. distinct_count
// and most_frequent keep an exact count map per entity capped at
// Options.MaxDistinct (1,000) values: past the cap new values are not
// counted (distinct_count saturates at the cap). window_count keeps a ring
// of Buckets (default 12) time buckets, so a window reads between
// Window-Window/Buckets and Window of history.
//
// # What it is not
//
// It stores nothing itself (Snapshot/Restore give checkpoints; history
// goes to a Sink), does not serve HTTP (ViewsJSON and Value's JSON form are
// for the caller's handlers) and is not a general expression language:
// on-demand functions are a fixed set of names plus tier(...).
package featureview
