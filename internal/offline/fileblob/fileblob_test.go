package fileblob_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/offline/blobtest"
	"github.com/recohq/reco/internal/offline/fileblob"
)

func TestContract(t *testing.T) { blobtest.Run(t, fileblob.New(t.TempDir())) }

func TestBadKeysAndTempFiles(t *testing.T) {
	dir := t.TempDir()
	b := fileblob.New(dir)
	ctx := context.Background()
	for _, k := range []string{"", "../x", "/abs", "a/../../x", "a//b", "a/.tmp-x"} {
		if err := b.Put(ctx, k, strings.NewReader("x"), 1); reco.KindOf(err) != reco.Invalid {
			t.Errorf("put %q: %v", k, err)
		}
	}
	// A torn write leaves only a temp file, which List ignores.
	os.MkdirAll(filepath.Join(dir, "v"), 0o755)
	os.WriteFile(filepath.Join(dir, "v", ".tmp-123"), []byte("partial"), 0o644)
	if objs, err := b.List(ctx, "v/"); err != nil || len(objs) != 0 {
		t.Fatalf("list: %+v %v", objs, err)
	}
	if err := b.Put(ctx, "v/x", strings.NewReader("short"), 10); err == nil {
		t.Fatal("a short body was stored")
	}
	if _, err := b.Get(ctx, "v/x"); reco.KindOf(err) != reco.NotFound {
		t.Fatalf("a failed put left an object: %v", err)
	}
}
