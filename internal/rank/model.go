package rank

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/recohq/reco/internal/rank/gbdt"
)

// Model ranks with a trained gradient-boosted tree model.
type Model struct {
	M *gbdt.Model
	V string // version name
}

// Version names the model version.
func (m *Model) Version() string { return m.V }

// Score scores the slate in one batch; scores are the model's predictions
// (probabilities for binary:logistic).
func (m *Model) Score(_ context.Context, s *Slate) error {
	if s.Flat == nil {
		BuildVectors(s)
	}
	s.Scores = resize(s.Scores, len(s.Items))
	if len(s.Items) == 0 {
		return nil
	}
	if err := m.M.Predict(s.Flat, numFeatures, s.Scores); err != nil {
		return fmt.Errorf("model %s: %w", m.V, err)
	}
	return nil
}

// Explain returns item i's top k feature contributions (TreeSHAP) by name.
func (m *Model) Explain(s *Slate, i, k int) ([]gbdt.Contribution, error) {
	return m.M.TopContributions(s.Vectors[i], k)
}

// Validate checks that a model can serve: it takes exactly FeatureNames
// (by name when the model names its features, else by count), and on the
// probe rows (row-major, NumFeatures columns) it gives finite scores that
// are not all the same.
func Validate(m *gbdt.Model, probe []float32) error {
	if m.NumFeatures() != numFeatures {
		return fmt.Errorf("model takes %d features, serving builds %d", m.NumFeatures(), numFeatures)
	}
	if names := m.FeatureNames(); len(names) > 0 {
		for i, n := range names {
			if n != FeatureNames[i] {
				return fmt.Errorf("model feature %d is %q, serving builds %q", i, n, FeatureNames[i])
			}
		}
	}
	rows := len(probe) / numFeatures
	if rows == 0 {
		return errors.New("no probe rows to validate the model on")
	}
	out := make([]float64, rows)
	if err := m.Predict(probe, numFeatures, out); err != nil {
		return err
	}
	distinct := false
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("model scores probe row %d as %v", i, v)
		}
		if v != out[0] {
			distinct = true
		}
	}
	if !distinct && rows > 1 {
		return fmt.Errorf("model gives the same score (%v) to all %d probe rows", out[0], rows)
	}
	return nil
}
