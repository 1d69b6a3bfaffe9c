//go:build !unix

package offline_test

import "time"

// cpuTime is not measured here: the CPU-s metrics read 0.
func cpuTime() time.Duration { return 0 }
