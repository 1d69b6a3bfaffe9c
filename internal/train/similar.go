package train

import (
	"context"
	"slices"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
)

// SimilarAsOf is the similar-items source of replayed training queries on
// a time-ordered log: a query at time t reads the table built from the
// events before the latest cut not after t, as the table serving holds
// (rebuilt at each training run) would have been. A single table built
// from every event has seen each query's own purchases and those after
// it, and a ranker trained on it learns to over-trust the source. Before
// the first cut it proposes nothing: build no query there
// (HistoryOptions.From).
type SimilarAsOf struct {
	Cuts   []int64 // Unix ms, ascending
	Tables []candidate.SimilarTable
}

var _ candidate.Source = SimilarAsOf{}

// BuildSimilarAsOf builds one table per cut (Unix ms) from the events
// before it; a cut with no behaviour event before it gets an empty table
// (the source then proposes nothing at its time).
func BuildSimilarAsOf(ctx context.Context, events []event.Event, o candidate.SimilarOptions, cuts []int64) (SimilarAsOf, error) {
	cuts = slices.Sorted(slices.Values(cuts))
	out := SimilarAsOf{Cuts: cuts}
	for _, c := range cuts {
		var before []event.Event
		for i := range events {
			if events[i].Time < c {
				before = append(before, events[i])
			}
		}
		var t candidate.SimilarTable
		if len(before) > 0 {
			var err error
			if t, err = candidate.BuildSimilar(ctx, before, o); err != nil {
				return SimilarAsOf{}, err
			}
		}
		out.Tables = append(out.Tables, t)
	}
	return out, nil
}

// Name is candidate.SrcSimilar.
func (SimilarAsOf) Name() string { return candidate.SrcSimilar }

// Candidates are candidate.Similar's over the table of in.Now.
func (s SimilarAsOf) Candidates(ctx context.Context, in *candidate.Input, n int) ([]candidate.Candidate, error) {
	k, _ := slices.BinarySearch(s.Cuts, in.Now+1) // cuts at or before in.Now
	if k == 0 {
		return nil, nil
	}
	return candidate.Similar{Table: s.Tables[k-1]}.Candidates(ctx, in, n)
}

// ReplaySimilar returns the similar-items source FromHistory's queries
// over events should read, so that no query's features have seen the
// purchase it is labelled with:
//
//   - with h.LeaveOneOut, a table built without the held-out positives
//     (WithoutHeldOut);
//   - else, with span > 0, a SimilarAsOf whose tables are rebuilt every
//     `every` (0 means span) from span before end (Unix ms), and that
//     first cut as the From to set in h: queries only after it;
//   - else (span <= 0) the serving table itself, built from every event:
//     the queries' similar scores have then seen their own purchases.
func ReplaySimilar(ctx context.Context, events []event.Event, o candidate.SimilarOptions, h HistoryOptions,
	span, every time.Duration, end int64, table candidate.SimilarTable) (src candidate.Source, from int64, err error) {
	switch {
	case h.LeaveOneOut:
		t, err := candidate.BuildSimilar(ctx, WithoutHeldOut(events, h.Positives), o)
		if err != nil {
			return nil, 0, err
		}
		return candidate.Similar{Table: t}, 0, nil
	case span > 0:
		if every <= 0 {
			every = span
		}
		from = end - span.Milliseconds()
		var cuts []int64
		for c := from; c < end; c += every.Milliseconds() {
			cuts = append(cuts, c)
		}
		s, err := BuildSimilarAsOf(ctx, events, o, cuts)
		if err != nil {
			return nil, 0, err
		}
		return s, from, nil
	}
	return candidate.Similar{Table: table}, 0, nil
}
