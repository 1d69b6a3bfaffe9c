package app

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/experiment"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/recommend"
)

func (a *App) openExperiments() error {
	configured := make([]*experiment.Experiment, len(a.Config.Experiments))
	for i := range a.Config.Experiments {
		configured[i] = &a.Config.Experiments[i]
	}
	reg, err := experiment.OpenRegistry(filepath.Join(a.Config.DataDir, "experiments"), configured)
	if err != nil {
		return err
	}
	a.Experiments = reg
	return nil
}

// Recommend serves one request: it assigns the user's experiment arm (if
// any), turns the arm's strategy into request options, and recommends.
func (a *App) Recommend(ctx context.Context, req recommend.Request) (*recommend.Response, error) {
	asg, ok := a.Experiments.Set().Primary(req.UserID, a.now())
	if !ok {
		return a.Rec.Recommend(ctx, req)
	}
	e, found := a.Experiments.Set().Get(asg.Experiment)
	if found && asg.Index >= 0 && asg.Index < len(e.Variants) {
		req.Strategy = a.strategy(e.Variants[asg.Index].Strategy)
	}
	if !asg.Forced { // QA users see the arm but are not exposures
		req.Experiment, req.Variant = asg.Experiment, asg.Variant
	}
	resp, err := a.Rec.Recommend(ctx, req)
	if err != nil {
		return nil, err
	}
	resp.Experiment, resp.Variant = asg.Experiment, asg.Variant
	return resp, nil
}

// strategy translates an arm's strategy into request options.
func (a *App) strategy(s experiment.Strategy) *recommend.Strategy {
	rs := &recommend.Strategy{PopularOnly: s.PopularOnly, SourceWeights: s.Sources, MaxPerCategory: s.MaxPerCategory, PromotedBoost: s.PromotedBoost}
	switch s.Model {
	case "":
	case "rules", rank.RulesVersion:
		rs.Rankers = []rank.Ranker{}
	default:
		a.Models.mu.Lock()
		m, err := a.Models.load(s.Model)
		a.Models.mu.Unlock()
		if err != nil {
			// The arm's model is unusable: the serving chain ranks, and
			// the response says which version did.
			a.Logger.Warn("experiment arm's model unusable", "model", s.Model, "err", err)
			break
		}
		rs.Rankers = append([]rank.Ranker{m}, a.Models.For("")...)
	}
	return rs
}

// experimentAdmin serves the experiment endpoints.
type experimentAdmin struct{ a *App }

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return reco.Errorf("experiments.decode", reco.Invalid, "bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (x experimentAdmin) List() (any, error) {
	return map[string]any{"experiments": x.a.Experiments.List()}, nil
}

func (x experimentAdmin) Get(id string) (any, error) {
	e, configured, err := x.a.Experiments.Get(id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": e, "configured": configured}, nil
}

func (x experimentAdmin) Create(body []byte) (any, error) {
	var e experiment.Experiment
	if err := decodeStrict(body, &e); err != nil {
		return nil, err
	}
	return x.a.Experiments.Create(&e)
}

func (x experimentAdmin) Patch(id string, body []byte) (any, error) {
	var p experiment.Patch
	if err := decodeStrict(body, &p); err != nil {
		return nil, err
	}
	return x.a.Experiments.Patch(id, p)
}

func (x experimentAdmin) Results(id string) (any, error) {
	e, _, err := x.a.Experiments.Get(id)
	if err != nil {
		return nil, err
	}
	return x.a.Accum.Results(e, x.a.now()), nil
}
