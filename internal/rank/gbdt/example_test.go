package gbdt_test

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/recohq/reco/internal/rank/gbdt"
)

func Example() {
	// Four rows of two features; NaN is a missing value.
	nan := float32(math.NaN())
	train := &gbdt.Dataset{
		X:            []float32{1, 0, 2, nan, 3, 1, 4, 0},
		Features:     2,
		Labels:       []float32{0, 0, 1, 1},
		FeatureNames: []string{"clicks", "price"},
	}
	p := gbdt.DefaultParams()
	p.Rounds, p.MinChildWeight = 10, 0
	m, _, err := gbdt.Train(context.Background(), p, train, nil)
	if err != nil {
		panic(err)
	}

	// Save in XGBoost's JSON format and load it back.
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		panic(err)
	}
	m, err = gbdt.Load(&buf)
	if err != nil {
		panic(err)
	}

	// Score a slate of two items.
	scores := make([]float64, 2)
	if err := m.Predict([]float32{1, 0, 4, nan}, 2, scores); err != nil {
		panic(err)
	}
	fmt.Printf("%.2f %.2f\n", scores[0], scores[1])

	// Explain the second score.
	top, _ := m.TopContributions([]float32{4, nan}, 1)
	fmt.Println(top[0].Name)
	// Output:
	// 0.20 0.80
	// clicks
}
