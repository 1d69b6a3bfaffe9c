// Package s3blob is an offline.Bucket in an S3 bucket, through minio-go:
// path-style requests, region us-east-1 unless told, multipart uploads for
// large objects (minio-go splits them; PartSize sets the part size).
//
// Errors carry a reco.Kind: rejected credentials are reco.Unauthenticated
// (a wrong key or signature) or reco.Forbidden (access denied), an
// unreachable endpoint is reco.Unavailable, a missing object or bucket is
// reco.NotFound.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/offline"
)

// Options locate and authenticate the bucket.
type Options struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string // "" means us-east-1
	Secure    bool   // TLS
	Prefix    string // optional key prefix inside the bucket, without a trailing "/"
	// PartSize is the multipart part size (0 means 16 MiB); objects larger
	// than one part are uploaded in parts.
	PartSize uint64
	// MaxRetries bounds minio-go's retries of a failed request (0 means 3).
	MaxRetries int
}

// Bucket is an S3 bucket. Safe for concurrent use.
type Bucket struct {
	c   *minio.Client
	opt Options
}

var _ offline.Bucket = (*Bucket)(nil)

// New returns a client for the bucket. It does no I/O: use EnsureBucket to
// check the credentials and create the bucket.
func New(o Options) (*Bucket, error) {
	var errs []string
	if o.Endpoint == "" {
		errs = append(errs, "endpoint is empty")
	}
	if o.Bucket == "" {
		errs = append(errs, "bucket is empty")
	}
	if len(errs) > 0 {
		return nil, reco.Errorf("s3blob.New", reco.Invalid, "%s", strings.Join(errs, "; "))
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.PartSize == 0 {
		o.PartSize = 16 << 20
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	o.Prefix = strings.Trim(o.Prefix, "/")
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       o.Secure,
		Region:       o.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   o.MaxRetries,
	})
	if err != nil {
		return nil, reco.E("s3blob.New", reco.Invalid, err)
	}
	return &Bucket{c: c, opt: o}, nil
}

func (b *Bucket) key(k string) string {
	if b.opt.Prefix == "" {
		return k
	}
	return b.opt.Prefix + "/" + k
}

// classify turns a minio-go or network error into a reco error.
func (b *Bucket) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return reco.E(op, reco.Unavailable, err)
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		resp = minio.ToErrorResponse(err)
	}
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "XAdminUserNotFound", "InvalidSecurity", "AuthorizationHeaderMalformed", "ExpiredToken", "InvalidToken":
		return reco.E(op, reco.Unauthenticated, fmt.Errorf("s3 %s rejected the credentials (access key %q): %s",
			b.opt.Endpoint, b.opt.AccessKey, resp.Code))
	case "AccessDenied":
		return reco.E(op, reco.Forbidden, fmt.Errorf("s3 %s denied access to bucket %s: %w", b.opt.Endpoint, b.opt.Bucket, err))
	case "NoSuchKey":
		return reco.E(op, reco.NotFound, err)
	case "NoSuchBucket":
		return reco.E(op, reco.NotFound, fmt.Errorf("s3 bucket %s does not exist on %s", b.opt.Bucket, b.opt.Endpoint))
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
		return reco.E(op, reco.Unavailable, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return reco.E(op, reco.Unavailable, fmt.Errorf("s3 %s unreachable: %w", b.opt.Endpoint, err))
	}
	if resp.StatusCode == 401 {
		return reco.E(op, reco.Unauthenticated, err)
	}
	if resp.StatusCode == 403 {
		return reco.E(op, reco.Forbidden, err)
	}
	return reco.E(op, reco.Other, err)
}

// EnsureBucket checks that the endpoint answers and accepts the
// credentials, and creates the bucket if it does not exist.
func (b *Bucket) EnsureBucket(ctx context.Context) error {
	ok, err := b.c.BucketExists(ctx, b.opt.Bucket)
	if err != nil {
		return b.classify("s3blob.EnsureBucket", err)
	}
	if ok {
		return nil
	}
	if err := b.c.MakeBucket(ctx, b.opt.Bucket, minio.MakeBucketOptions{Region: b.opt.Region}); err != nil {
		if c := minio.ToErrorResponse(err).Code; c == "BucketAlreadyOwnedByYou" || c == "BucketAlreadyExists" {
			return nil
		}
		return b.classify("s3blob.EnsureBucket", err)
	}
	return nil
}

// PutInfo is what Put learned about the stored object.
type PutInfo struct {
	ETag  string // "<md5>-<parts>" after a multipart upload
	Parts int    // 0 for a single-request upload
}

// Put uploads the object; S3 makes it visible whole or not at all.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := b.PutInfo(ctx, key, r, size)
	return err
}

// PutInfo is Put, reporting how the object was uploaded.
func (b *Bucket) PutInfo(ctx context.Context, key string, r io.Reader, size int64) (PutInfo, error) {
	info, err := b.c.PutObject(ctx, b.opt.Bucket, b.key(key), r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    b.opt.PartSize,
	})
	if err != nil {
		return PutInfo{}, b.classify("s3blob.Put", err)
	}
	pi := PutInfo{ETag: info.ETag}
	if i := strings.LastIndexByte(info.ETag, '-'); i >= 0 {
		fmt.Sscan(info.ETag[i+1:], &pi.Parts)
	}
	return pi, nil
}

type object struct {
	*bytes.Reader
}

func (object) Close() error { return nil }

// Get downloads the whole object: Parquet reads many small ranges, which
// are cheaper from memory than as separate requests.
func (b *Bucket) Get(ctx context.Context, key string) (offline.Object, error) {
	o, err := b.c.GetObject(ctx, b.opt.Bucket, b.key(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, b.classify("s3blob.Get", err)
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		return nil, b.classify("s3blob.Get", fmt.Errorf("%s: %w", key, err))
	}
	return object{bytes.NewReader(data)}, nil
}

// List lists the objects under prefix, sorted by key.
func (b *Bucket) List(ctx context.Context, prefix string) ([]offline.ObjectInfo, error) {
	var out []offline.ObjectInfo
	strip := ""
	if b.opt.Prefix != "" {
		strip = b.opt.Prefix + "/"
	}
	for o := range b.c.ListObjects(ctx, b.opt.Bucket, minio.ListObjectsOptions{Prefix: b.key(prefix), Recursive: true}) {
		if o.Err != nil {
			return nil, b.classify("s3blob.List", o.Err)
		}
		out = append(out, offline.ObjectInfo{Key: strings.TrimPrefix(o.Key, strip), Size: o.Size})
	}
	return out, nil
}

// Delete removes the object; a missing one is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.c.RemoveObject(ctx, b.opt.Bucket, b.key(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return b.classify("s3blob.Delete", err)
	}
	return nil
}
