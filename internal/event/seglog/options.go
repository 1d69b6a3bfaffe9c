package seglog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Fsync policies for Options.Fsync.
const (
	FsyncAlways   = "always"   // Append returns after fsync (group commit)
	FsyncInterval = "interval" // fsync every FsyncInterval in the background
	FsyncNever    = "never"    // leave it to the OS (Sync and Close still fsync)
)

const (
	defaultPartitions     = 8
	defaultSegmentBytes   = 64 << 20
	defaultFsyncInterval  = 100 * time.Millisecond
	defaultRetention      = 7 * 24 * time.Hour
	defaultMaxRecordBytes = 8 << 20
	maxPartitions         = 1000
	maxRecordLimit        = 1 << 30
)

// Options configures Open. The zero value of every field but Dir has a
// default.
type Options struct {
	Dir string // required

	// Partitions is fixed when the log is created and stored in meta.json.
	// 0 on create means 8; 0 on reopen means the stored count. Reopening
	// with a different non-zero count is an error.
	Partitions int

	// SegmentBytes rolls a partition to a new segment file once it would
	// grow past this many bytes. A record larger than SegmentBytes gets a
	// segment of its own. 0 means 64 MiB.
	SegmentBytes int64

	// Fsync is FsyncAlways (the default), FsyncInterval or FsyncNever.
	Fsync string

	// FsyncInterval is the period of the background fsync with
	// FsyncInterval. 0 means 100ms.
	FsyncInterval time.Duration

	// Retention is how long a segment is kept after it was last appended
	// to (not event time). 0 means 7 days. See EnforceRetention.
	Retention time.Duration

	// MaxRecordBytes bounds one record's payload; Append rejects larger
	// records with a reco.TooLarge error. 0 means 8 MiB; at most 1 GiB.
	MaxRecordBytes int

	// Now returns the current time. nil means time.Now.
	Now func() time.Time

	// OpenFile opens segment files, for reading and for writing. nil means
	// os.OpenFile. Tests inject failures (such as ENOSPC) through it.
	// Directories, meta.json and consumers.json use the os package directly.
	OpenFile func(name string, flag int, perm fs.FileMode) (File, error)

	// Hooks receives metrics callbacks.
	Hooks Hooks
}

// File is the part of *os.File the log uses for segment files.
type File interface {
	io.ReaderAt
	io.WriterAt
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Hooks are optional callbacks for metrics. Each must be fast and safe for
// concurrent use; a nil hook is skipped.
type Hooks struct {
	// OnAppend is called after a successful Append with its record count,
	// payload bytes and the time from the call to the acknowledgement.
	OnAppend func(records, bytes int, took time.Duration)
	// OnFsync is called after each round of fsyncs (one per group commit
	// with FsyncAlways, one per tick with FsyncInterval).
	OnFsync func(took time.Duration)
	// OnTruncate is called by Open for each torn tail it truncated.
	OnTruncate func(partition int, droppedBytes int64)
	// OnRoll is called when a partition starts a new segment.
	OnRoll func(partition int, baseOffset int64)
	// OnRetention is called by EnforceRetention for each deleted segment.
	OnRetention func(partition int, baseOffset int64, bytes int64)
	// OnError is called when the background fsync fails. The error also
	// fails every later Append, Sync and Close.
	OnError func(err error)
}

func (o Options) withDefaults() Options {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	if o.Fsync == "" {
		o.Fsync = FsyncAlways
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = defaultFsyncInterval
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = defaultMaxRecordBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenFile == nil {
		o.OpenFile = func(name string, flag int, perm fs.FileMode) (File, error) {
			return os.OpenFile(name, flag, perm)
		}
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("Dir is empty"))
	}
	if o.Partitions < 0 || o.Partitions > maxPartitions {
		errs = append(errs, fmt.Errorf("Partitions %d not in [0, %d]", o.Partitions, maxPartitions))
	}
	if o.SegmentBytes < 0 {
		errs = append(errs, fmt.Errorf("SegmentBytes %d < 0", o.SegmentBytes))
	}
	switch o.Fsync {
	case FsyncAlways, FsyncInterval, FsyncNever:
	default:
		errs = append(errs, fmt.Errorf("Fsync %q is not %q, %q or %q", o.Fsync, FsyncAlways, FsyncInterval, FsyncNever))
	}
	if o.FsyncInterval < 0 {
		errs = append(errs, fmt.Errorf("FsyncInterval %v < 0", o.FsyncInterval))
	}
	if o.Retention < 0 {
		errs = append(errs, fmt.Errorf("Retention %v < 0", o.Retention))
	}
	if o.MaxRecordBytes < 0 || o.MaxRecordBytes > maxRecordLimit {
		errs = append(errs, fmt.Errorf("MaxRecordBytes %d not in [0, %d]", o.MaxRecordBytes, maxRecordLimit))
	}
	return errors.Join(errs...)
}
