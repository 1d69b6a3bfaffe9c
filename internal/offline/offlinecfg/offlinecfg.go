// Package offlinecfg opens the offline store an offline_store config section
// describes: a local directory (default <data_dir>/offline) or an S3 bucket.
// It is wiring only, so that the core offline package needs neither the
// config package nor the S3 SDK.
package offlinecfg

import (
	"context"
	"path/filepath"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/offline/s3blob"
)

// Open returns the store of c. For S3 it checks the endpoint and the
// credentials and creates the bucket if missing (I/O bounded by ctx); a
// local store does no I/O until used.
func Open(ctx context.Context, c config.OfflineStore, dataDir string) (*offline.Store, error) {
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
		b = sb
	default:
		return nil, reco.Errorf("offlinecfg.Open", reco.Invalid, "offline_store.type %q is not local or s3", c.Type)
	}
	return offline.New(b, offline.Options{})
}
