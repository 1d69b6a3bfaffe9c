package experiment_test

import (
	"fmt"
	"time"

	"github.com/recohq/reco/internal/experiment"
)

func ExampleAssign() {
	e := &experiment.Experiment{ID: "ranker-v7", Variants: []experiment.Variant{
		{Name: "control", Weight: 50, Strategy: experiment.Strategy{PopularOnly: true}},
		{Name: "model", Weight: 50, Strategy: experiment.Strategy{Model: "v7"}},
	}}
	e.Normalize()
	v, ok := experiment.Assign(e, "user-42", time.Now())
	fmt.Println(v, ok)
	// Output: control true
}
