// Package fileblob is an offline.Bucket in a local directory: keys are
// relative paths, writes are atomic (temp file, fsync, rename, fsync of the
// directory), so a reader sees an old object or a whole new one.
package fileblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/offline"
)

// tmpPrefix marks in-progress writes; List skips them.
const tmpPrefix = ".tmp-"

// Bucket is a directory used as a bucket. Safe for concurrent use.
type Bucket struct {
	dir string
}

var _ offline.Bucket = (*Bucket)(nil)

// New returns a bucket in dir (created on the first write).
func New(dir string) *Bucket { return &Bucket{dir: dir} }

// Dir is the bucket's directory.
func (b *Bucket) Dir() string { return b.dir }

func (b *Bucket) path(op, key string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean(key))
	if key == "" || clean != key || strings.HasPrefix(key, "/") || strings.HasPrefix(key, "../") || key == ".." ||
		strings.HasPrefix(filepath.Base(key), tmpPrefix) {
		return "", reco.Errorf(op, reco.Invalid, "bad key %q", key)
	}
	return filepath.Join(b.dir, filepath.FromSlash(key)), nil
}

func classify(op string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return reco.E(op, reco.NotFound, err)
	case errors.Is(err, syscall.ENOSPC):
		return reco.E(op, reco.NoSpace, err)
	}
	return reco.E(op, reco.Other, err)
}

// Put writes the object atomically.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := b.path("fileblob.Put", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	var f *os.File
	for try := 0; ; try++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return classify("fileblob.Put", err)
		}
		// A concurrent Delete may remove the directory just made: retry.
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 3 {
			break
		}
	}
	if err != nil {
		return classify("fileblob.Put", err)
	}
	defer os.Remove(f.Name())
	n, err := io.Copy(f, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("wrote %d bytes, want %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return classify("fileblob.Put", fmt.Errorf("%s: %w", key, err))
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

type object struct {
	*os.File
	size int64
}

func (o object) Size() int64 { return o.size }

// Get opens the object.
func (b *Bucket) Get(ctx context.Context, key string) (offline.Object, error) {
	p, err := b.path("fileblob.Get", key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, classify("fileblob.Get", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, classify("fileblob.Get", err)
	}
	return object{f, st.Size()}, nil
}

// List walks the directory under prefix.
func (b *Bucket) List(ctx context.Context, prefix string) ([]offline.ObjectInfo, error) {
	root := b.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		root = filepath.Join(b.dir, filepath.FromSlash(prefix[:i]))
	}
	var out []offline.ObjectInfo
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.dir, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			// Prune directories that cannot hold a match.
			if p != root && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, offline.ObjectInfo{Key: key, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, classify("fileblob.List", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object and then any directories it leaves empty.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	p, err := b.path("fileblob.Delete", key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classify("fileblob.Delete", err)
	}
	for dir := filepath.Dir(p); dir != b.dir && strings.HasPrefix(dir, b.dir); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}
