package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/offline/blobtest"
	"github.com/recohq/reco/internal/offline/s3blob"
)

// server returns the options of the test S3 server (scripts/s3-test-server.sh
// starts versitygw and prints the variables), skipping the test when there is
// none unless RECO_TEST_S3=1.
func server(t *testing.T) s3blob.Options {
	t.Helper()
	ep := os.Getenv("RECO_TEST_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv("RECO_TEST_S3") == "1" {
			t.Fatal("RECO_TEST_S3=1 but RECO_TEST_S3_ENDPOINT is not set: start scripts/s3-test-server.sh")
		}
		t.Skip("no S3 server: set RECO_TEST_S3_ENDPOINT, RECO_TEST_S3_ACCESS_KEY, RECO_TEST_S3_SECRET_KEY (scripts/s3-test-server.sh)")
	}
	return s3blob.Options{Endpoint: ep, AccessKey: os.Getenv("RECO_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("RECO_TEST_S3_SECRET_KEY"),
		Bucket: fmt.Sprintf("reco-test-%d", time.Now().UnixNano()%1e9)}
}

func open(t *testing.T, o s3blob.Options) *s3blob.Bucket {
	t.Helper()
	b, err := s3blob.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContract(t *testing.T) {
	o := server(t)
	blobtest.Run(t, open(t, o))
}

func TestPrefix(t *testing.T) {
	o := server(t)
	o.Prefix = "tenant/a"
	blobtest.Run(t, open(t, o))
}

func TestBadCredentialsRefused(t *testing.T) {
	o := server(t)
	open(t, o) // the bucket exists
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, bad := range map[string]s3blob.Options{
		"wrong secret": {Endpoint: o.Endpoint, AccessKey: o.AccessKey, SecretKey: o.SecretKey + "x", Bucket: o.Bucket},
		"unknown key":  {Endpoint: o.Endpoint, AccessKey: "nobody", SecretKey: "nothing", Bucket: o.Bucket},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := s3blob.New(bad)
			if err != nil {
				t.Fatal(err)
			}
			err = b.EnsureBucket(ctx)
			if k := reco.KindOf(err); k != reco.Unauthenticated && k != reco.Forbidden {
				t.Fatalf("EnsureBucket with bad credentials: %v (kind %v)", err, k)
			}
			err = b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1)
			if k := reco.KindOf(err); k != reco.Unauthenticated && k != reco.Forbidden {
				t.Fatalf("Put with bad credentials: %v (kind %v)", err, k)
			}
			if _, err := b.List(ctx, ""); err == nil {
				t.Fatal("List with bad credentials succeeded")
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	b, err := s3blob.New(s3blob.Options{Endpoint: addr, AccessKey: "k", SecretKey: "s", Bucket: "bucket", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.EnsureBucket(ctx); reco.KindOf(err) != reco.Unavailable {
		t.Fatalf("unreachable endpoint: %v (kind %v)", err, reco.KindOf(err))
	}
}

func TestMultipartUpload(t *testing.T) {
	o := server(t)
	o.PartSize = 5 << 20
	b := open(t, o)
	data := make([]byte, 17<<20+12345) // > 16 MiB, 4 parts of 5 MiB
	rand.Read(data)
	ctx := context.Background()
	info, err := b.PutInfo(ctx, "big/object.bin", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Parts != 4 {
		t.Fatalf("uploaded as %d parts (etag %s), want a 4-part multipart upload", info.Parts, info.ETag)
	}
	// Default part size (16 MiB): still multipart, 2 parts.
	o2 := o
	o2.PartSize = 0
	b2, _ := s3blob.New(o2)
	info, err = b2.PutInfo(ctx, "big/object2.bin", bytes.NewReader(data), int64(len(data)))
	if err != nil || info.Parts != 2 {
		t.Fatalf("default part size: %+v %v", info, err)
	}
	got := blobtest.Read(t, b, "big/object.bin")
	if !bytes.Equal([]byte(got), data) {
		t.Fatal("the multipart object reads back different")
	}
	objs, err := b.List(ctx, "big/")
	if err != nil || len(objs) != 2 || objs[0].Size != int64(len(data)) {
		t.Fatalf("list %+v %v", objs, err)
	}
	b.Delete(ctx, "big/object.bin")
	b.Delete(ctx, "big/object2.bin")
}
