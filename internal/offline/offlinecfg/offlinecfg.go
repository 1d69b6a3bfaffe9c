// Package offlinecfg opens the offline store an offline_store config section
// describes: a local directory (default <data_dir>/offline) or an S3 bucket.
// It is wiring only, so that the core offline package needs neither the
// config package nor the S3 SDK.
package offlinecfg

import (
	"context"
	"path/filepath"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/breaker"
	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/offline/s3blob"
)

// Open returns the store of c. For S3 it checks the endpoint and the
// credentials and creates the bucket if missing (I/O bounded by ctx); a
// local store does no I/O until used. An S3 store sits behind a circuit
// breaker; onBreaker (optional) is told when it opens and closes.
func Open(ctx context.Context, c config.OfflineStore, dataDir string, onBreaker ...func(open bool)) (*offline.Store, error) {
	var b offline.Bucket
	switch c.Type {
	case "", "local":
		dir := c.Path
		if dir == "" {
			dir = filepath.Join(dataDir, "offline")
		}
		b = fileblob.New(dir)
	case "s3":
		sb, err := s3blob.New(s3blob.Options{Endpoint: c.Endpoint, Bucket: c.Bucket, AccessKey: c.AccessKey,
			SecretKey: c.SecretKey, Region: c.Region, Secure: c.Secure})
		if err != nil {
			return nil, err
		}
		if err := sb.EnsureBucket(ctx); err != nil {
			return nil, err
		}
		// Fail fast while S3 is down (5 failures in a row; a probe every
		// 5 s): window writes and checkpoint uploads retry later anyway.
		var hook func(bool)
		if len(onBreaker) > 0 {
			hook = onBreaker[0]
		}
		b = offline.Guarded(sb, breaker.New(5, 5*time.Second, nil, hook))
	default:
		return nil, reco.Errorf("offlinecfg.Open", reco.Invalid, "offline_store.type %q is not local or s3", c.Type)
	}
	return offline.New(b, offline.Options{})
}
