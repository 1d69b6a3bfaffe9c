// Package candidate gathers the items worth ranking for one request from
// several sources (popular in the user's categories, co-visitation from the
// user's recent items, trending, the user's own history, global popular,
// buy-again, items similar under a precomputed EASE table) and
// merges them, de-duplicated, each keeping every source's score and the
// source that found it first by priority.
//
// Sources read prepared state (the popularity index, co-visitation lists);
// they do no ranking: package rank orders what they return.
package candidate
