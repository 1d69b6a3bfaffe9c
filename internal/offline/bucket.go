package offline

import (
	"context"
	"io"
)

// Bucket is object storage as the store needs it: flat keys with "/" as
// the separator, whole-object writes. fileblob (a local directory) and
// s3blob (S3 via minio-go) implement it.
type Bucket interface {
	// Put stores size bytes read from r under key, replacing any object
	// there. Readers see the old object or the new one, never a part.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object at key. A missing key is a reco.NotFound error.
	// The caller closes the object.
	Get(ctx context.Context, key string) (Object, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object at key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Object is an opened object: random access for Parquet footers and pages.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ObjectInfo describes one listed object.
type ObjectInfo struct {
	Key  string
	Size int64
}
