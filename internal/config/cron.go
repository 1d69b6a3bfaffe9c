package config

import (
	"fmt"

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses a standard 5-field cron schedule (optionally with a
// CRON_TZ= prefix). It never panics: robfig/cron's parser indexes past a
// time zone prefix without a following space.
func ParseSchedule(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("bad cron schedule %q", spec)
		}
	}()
	return cron.ParseStandard(spec)
}
