package app

import (
	"context"
	"time"

	"github.com/recohq/reco/internal/window"
)

// runWindows writes closed window rows and the raw events archive to the
// offline store once the checkpoint that covers them is durable.
func (a *App) runWindows(ctx context.Context) error {
	return a.Windows.Run(ctx, 10*time.Second, func(err error) {
		a.Logger.Warn("offline store write failed; retrying", "err", err)
	})
}

// runViewHistory writes the declared feature views' history rows to the
// offline store once the checkpoint that sealed them is durable.
func (a *App) runViewHistory(ctx context.Context) error {
	return a.Views.Run(ctx, 10*time.Second, func(err error) {
		a.Logger.Warn("feature view history write failed; retrying", "err", err)
	})
}

// snapshotProducts writes the daily product_features snapshot: at start (if
// the day has none yet is not tracked: once per process start) and then
// every 24 hours.
func (a *App) snapshotProducts(ctx context.Context) error {
	first := time.NewTimer(time.Minute)
	defer first.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-first.C:
	}
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		n, err := window.SnapshotProducts(ctx, a.Offline, a.now(), a.features, a.Store.AllProducts())
		if err != nil && ctx.Err() == nil {
			a.Logger.Warn("daily product snapshot", "err", err)
		} else if err == nil {
			a.Logger.Info("daily product snapshot written", "products", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
