package loadgen_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/recohq/reco/internal/loadgen"
)

// Load a catalog and history, then offer 200 recommend requests per second
// for 30 seconds and print the summary.
func Example() {
	ctx := context.Background()
	o := loadgen.Options{
		BaseURL:  "http://localhost:8080",
		Scenario: loadgen.ScenarioRecommend,
		Rate:     200,
		Duration: 30 * time.Second,
		Seed:     1,
		Progress: os.Stderr,
	}
	if err := loadgen.Prepare(ctx, o); err != nil {
		log.Fatal(err)
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		log.Fatal(err)
	}
	res.Print(os.Stdout)
}
