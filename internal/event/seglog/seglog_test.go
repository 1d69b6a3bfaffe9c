package seglog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{"defaults", Options{Dir: "x"}, nil},
		{"no dir", Options{}, []string{"Dir"}},
		{"several", Options{Dir: "x", Partitions: -1, SegmentBytes: -1, Fsync: "sometimes", Retention: -1},
			[]string{"Partitions", "SegmentBytes", "Fsync", "Retention"}},
		{"too many partitions", Options{Dir: "x", Partitions: 1001}, []string{"Partitions"}},
		{"record limit", Options{Dir: "x", MaxRecordBytes: 2 << 30}, []string{"MaxRecordBytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.withDefaults().validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("validate: no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestRoundTripAcrossReopen(t *testing.T) {
	for _, fsync := range []string{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(fsync, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, Partitions: 3, Fsync: fsync, FsyncInterval: time.Millisecond}
			l := mustOpen(t, opts)
			// One batch across partitions: offsets are dense per partition.
			recs := []Record{{0, payload(0, 0)}, {1, payload(1, 0)}, {0, payload(0, 1)}, {2, payload(2, 0)}, {0, payload(0, 2)}}
			offs := mustAppend(t, l, recs)
			if want := []int64{0, 0, 1, 0, 2}; fmt.Sprint(offs) != fmt.Sprint(want) {
				t.Fatalf("offsets %v, want %v", offs, want)
			}
			fill(t, l, 50)
			ends := []int64{53, 51, 51}
			for p, want := range ends {
				if got := l.EndOffset(p); got != want {
					t.Fatalf("EndOffset(%d) = %d, want %d", p, got, want)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			l = mustOpen(t, Options{Dir: dir, Fsync: fsync}) // partitions from meta.json
			defer l.Close()
			if l.Partitions() != 3 {
				t.Fatalf("Partitions = %d, want 3", l.Partitions())
			}
			if rec := l.Recovered(); len(rec) != 0 {
				t.Fatalf("Recovered = %v after clean close", rec)
			}
			for p, want := range ends {
				if got := l.EndOffset(p); got != want {
					t.Fatalf("after reopen EndOffset(%d) = %d, want %d", p, got, want)
				}
				checkPayloads(t, l, p, 0, want)
			}
			fill(t, l, 5)
			for p, want := range ends {
				checkPayloads(t, l, p, 0, want+5)
				checkPayloads(t, l, p, want-2, want+5) // seek into the middle
			}
		})
	}
}

func TestSegmentRolling(t *testing.T) {
	dir := t.TempDir()
	var rolls []int64
	var mu sync.Mutex
	opts := Options{Dir: dir, Partitions: 2, SegmentBytes: 1024, Hooks: Hooks{OnRoll: func(p int, base int64) {
		mu.Lock()
		rolls = append(rolls, base)
		mu.Unlock()
	}}}
	l := mustOpen(t, opts)
	fill(t, l, 200)
	// A record larger than a segment gets a segment of its own.
	big := Record{Partition: 1, Data: bytes.Repeat([]byte("b"), 3000)}
	offs := mustAppend(t, l, []Record{big, {1, payload(1, 201)}})
	if offs[0] != 200 || offs[1] != 201 {
		t.Fatalf("offsets %v", offs)
	}
	checkSegments := func() {
		t.Helper()
		for p := range 2 {
			ents, err := os.ReadDir(partDir(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) < 5 {
				t.Fatalf("partition %d has %d segment files, want several", p, len(ents))
			}
			if ents[0].Name() != "00000000000000000000.seg" {
				t.Fatalf("first segment is %s", ents[0].Name())
			}
			for _, e := range ents {
				info, _ := e.Info()
				if info.Size() > 1024 && !(p == 1 && info.Size() == 3016) {
					t.Errorf("%s is %d bytes, over SegmentBytes", e.Name(), info.Size())
				}
			}
		}
	}
	checkSegments()
	if len(rolls) == 0 {
		t.Fatal("OnRoll never called")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, opts)
	defer l.Close()
	checkSegments()
	checkPayloads(t, l, 0, 0, 200)
	checkPayloads(t, l, 0, 123, 200)
	offsets, data := readAll(t, l, 1, 199)
	if fmt.Sprint(offsets) != "[199 200 201]" || !bytes.Equal(data[1], big.Data) {
		t.Fatalf("partition 1 tail: offsets %v", offsets)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	const (
		writers    = 8
		batches    = 40
		partitions = 4
	)
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: partitions, SegmentBytes: 8 << 10})
	defer l.Close()
	type ack struct {
		p   int
		off int64
	}
	acks := make([][]ack, writers) // in each writer's append order
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			seq := 0
			for b := range batches {
				var recs []Record
				for i := range 1 + (w+b)%9 {
					recs = append(recs, Record{Partition: (w + b + i) % partitions, Data: fmt.Appendf(nil, "w%d-s%d", w, seq)})
					seq++
				}
				offs, err := l.Append(context.Background(), recs)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				for i, r := range recs {
					acks[w] = append(acks[w], ack{r.Partition, offs[i]})
				}
			}
		})
	}
	wg.Wait()

	var seen [partitions]map[string]int64
	for p := range partitions {
		seen[p] = map[string]int64{}
		offs, data := readAll(t, l, p, 0)
		if int64(len(offs)) != l.EndOffset(p) {
			t.Fatalf("partition %d: read %d records, EndOffset %d", p, len(offs), l.EndOffset(p))
		}
		for i, off := range offs {
			if off != int64(i) {
				t.Fatalf("partition %d: offset %d at position %d", p, off, i)
			}
			if _, dup := seen[p][string(data[i])]; dup {
				t.Fatalf("partition %d: %s read twice", p, data[i])
			}
			seen[p][string(data[i])] = off
		}
	}
	total := 0
	for w, as := range acks {
		last := map[int]int64{}
		for seq, a := range as {
			total++
			key := fmt.Sprintf("w%d-s%d", w, seq)
			off, ok := seen[a.p][key]
			if !ok || off != a.off {
				t.Fatalf("%s acknowledged at partition %d offset %d, read at %d (found %v)", key, a.p, a.off, off, ok)
			}
			if prev, ok := last[a.p]; ok && off <= prev {
				t.Fatalf("%s: offset %d not after the writer's previous %d", key, off, prev)
			}
			last[a.p] = off
		}
	}
	n := 0
	for p := range partitions {
		n += len(seen[p])
	}
	if n != total {
		t.Fatalf("read %d records, acknowledged %d", n, total)
	}
}

func TestNextWakesOnAppend(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: 2})
	defer l.Close()
	mustAppend(t, l, []Record{{1, []byte("old")}})
	r, err := l.NewReader(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type result struct {
		off  int64
		data string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		off, data, err := r.Next(context.Background())
		got <- result{off, string(data), err}
	}()
	select {
	case res := <-got:
		t.Fatalf("Next returned before Append: %+v", res)
	case <-time.After(20 * time.Millisecond):
	}
	mustAppend(t, l, []Record{{0, []byte("other partition")}, {1, []byte("new")}})
	select {
	case res := <-got:
		if res.err != nil || res.off != 1 || res.data != "new" {
			t.Fatalf("Next = %+v, want offset 1 \"new\"", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not wake on Append")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with expired ctx: %v", err)
	}

	go func() {
		_, _, err := r.Next(context.Background())
		got <- result{err: err}
	}()
	time.Sleep(10 * time.Millisecond)
	l.Close()
	select {
	case res := <-got:
		if reco.KindOf(res.err) != reco.Unavailable {
			t.Fatalf("Next after Close: %v, want an Unavailable error", res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not wake on Close")
	}
}

// segPath returns the path of the segment file with the given base.
func segPath(dir string, p int, base int64) string {
	return filepath.Join(partDir(dir, p), segName(base))
}

func TestTornTail(t *testing.T) {
	// Each case damages the end of partition 1's last segment, which holds
	// offsets 0..9 in records of known size.
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
		keep   int64 // records that survive
		reason string
	}{
		{"garbage", func(t *testing.T, path string, size int64) {
			appendBytes(t, path, []byte("this is not a record at all"))
		}, 10, "over the limit"},
		{"short header", func(t *testing.T, path string, size int64) {
			appendBytes(t, path, encode(10, []byte("next"))[:9])
		}, 10, "short header"},
		{"short payload", func(t *testing.T, path string, size int64) {
			rec := encode(10, []byte("a payload that is cut"))
			appendBytes(t, path, rec[:len(rec)-5])
		}, 10, "short payload"},
		{"zeroed block", func(t *testing.T, path string, size int64) {
			appendBytes(t, path, make([]byte, 4096))
		}, 10, "header has offset"},
		{"bad checksum in last record", func(t *testing.T, path string, size int64) {
			flipByte(t, path, size-1)
		}, 9, "checksum mismatch"},
		{"truncated last record", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size-3); err != nil {
				t.Fatal(err)
			}
		}, 9, "short payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, Partitions: 2}
			l := mustOpen(t, opts)
			fill(t, l, 10)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := segPath(dir, 1, 0)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path, info.Size())
			damaged, _ := os.Stat(path)

			var hookP int
			var hookBytes int64
			opts.Hooks.OnTruncate = func(p int, n int64) { hookP, hookBytes = p, n }
			l = mustOpen(t, opts)
			defer l.Close()
			rec := l.Recovered()
			if len(rec) != 1 || rec[0].Partition != 1 || rec[0].Path != path {
				t.Fatalf("Recovered = %+v", rec)
			}
			kept, _ := os.Stat(path)
			if rec[0].DroppedBytes != damaged.Size()-kept.Size() || rec[0].Pos != kept.Size() {
				t.Fatalf("Recovered = %+v; file went from %d to %d bytes", rec[0], damaged.Size(), kept.Size())
			}
			if !strings.Contains(rec[0].Reason, tt.reason) {
				t.Errorf("reason %q, want %q", rec[0].Reason, tt.reason)
			}
			if hookP != 1 || hookBytes != rec[0].DroppedBytes {
				t.Errorf("OnTruncate(%d, %d), want (1, %d)", hookP, hookBytes, rec[0].DroppedBytes)
			}
			if got := l.EndOffset(1); got != tt.keep {
				t.Fatalf("EndOffset = %d, want %d", got, tt.keep)
			}
			checkPayloads(t, l, 0, 0, 10)
			fill(t, l, 3) // continues at the right offset
			if got := l.EndOffset(1); got != tt.keep+3 {
				t.Fatalf("EndOffset after append = %d, want %d", got, tt.keep+3)
			}
			checkPayloads(t, l, 1, 0, tt.keep+3)
		})
	}
}

func encode(off int64, data []byte) []byte { return appendRecord(nil, off, data) }

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

// recordPos returns the byte position of offset off in a segment starting at base.
func recordPos(t *testing.T, path string, base, off int64) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pos := int64(0)
	for o := base; o < off; o++ {
		pos += headerSize + int64(binary.LittleEndian.Uint32(b[pos:]))
	}
	return pos
}

func TestMidLogCorruption(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string) (pos int64, off int64)
		reason string
	}{
		{"bad checksum", func(t *testing.T, path string) (int64, int64) {
			pos := recordPos(t, path, 0, 3)
			flipByte(t, path, pos+headerSize+1)
			return pos, 3
		}, "checksum mismatch"},
		{"bad offset", func(t *testing.T, path string) (int64, int64) {
			pos := recordPos(t, path, 0, 4)
			flipByte(t, path, pos+8)
			return pos, 4
		}, "header has offset"},
		{"segment cut short", func(t *testing.T, path string) (int64, int64) {
			pos := recordPos(t, path, 0, 5)
			if err := os.Truncate(path, pos); err != nil {
				t.Fatal(err)
			}
			return pos, 5
		}, "ends before the next segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, Partitions: 1, SegmentBytes: 512}
			l := mustOpen(t, opts)
			fill(t, l, 60)
			l.Close()
			path := segPath(dir, 0, 0)
			pos, off := tt.damage(t, path)

			l = mustOpen(t, opts) // Open does not read older segments
			defer l.Close()
			if rec := l.Recovered(); len(rec) != 0 {
				t.Fatalf("Recovered = %v: mid-log damage must not be truncated", rec)
			}
			r, err := l.NewReader(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var n int64
			for {
				_, _, ok, err := r.TryNext()
				if err != nil {
					var ce *CorruptionError
					if !errors.As(err, &ce) {
						t.Fatalf("error %v is not a *CorruptionError", err)
					}
					if ce.Path != path || ce.Pos != pos || ce.Offset != off || !strings.Contains(ce.Reason, tt.reason) {
						t.Fatalf("CorruptionError %+v, want %s byte %d offset %d (%s)", ce, path, pos, off, tt.reason)
					}
					if !strings.Contains(err.Error(), path) {
						t.Fatalf("message %q does not name the file", err)
					}
					if n != off {
						t.Fatalf("served %d records before the damage at offset %d", n, off)
					}
					if _, _, _, err2 := r.TryNext(); err2 == nil {
						t.Fatal("error is not sticky")
					}
					return
				}
				if !ok {
					t.Fatalf("read to the end (%d records) without an error", n)
				}
				n++
			}
		})
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	// Reopen takes segment ages from file mtimes, so start at the real time.
	clk := &clock{now: time.Now()}
	opts := Options{Dir: dir, Partitions: 2, SegmentBytes: 256, Retention: time.Hour, Now: clk.Now}
	l := mustOpen(t, opts)
	fill(t, l, 40) // several segments per partition, all appended at t0
	clk.Add(50 * time.Minute)
	fill(t, l, 40) // newer segments

	bases := func(p int) []int64 {
		l.parts[p].mu.Lock()
		defer l.parts[p].mu.Unlock()
		var b []int64
		for _, s := range l.parts[p].segs {
			b = append(b, s.base)
		}
		return b
	}
	segOf := func(p int, off int64) (base, end int64) { // segment holding off
		b := bases(p)
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] <= off {
				end = l.EndOffset(p)
				if i+1 < len(b) {
					end = b[i+1]
				}
				return b[i], end
			}
		}
		t.Fatalf("no segment holds %d", off)
		return
	}
	n, err := l.EnforceRetention()
	if err != nil || n != 0 {
		t.Fatalf("EnforceRetention before Retention passed = %d, %v", n, err)
	}

	// Consumer "a" is past offset 20 in partition 0 and nowhere in 1;
	// consumer "b" is far ahead everywhere.
	l.SetCommitted("a", 0, 20)
	l.SetCommitted("b", 0, 80)
	l.SetCommitted("b", 1, 80)
	clk.Add(20 * time.Minute) // the first 40 records' segments are now 70m old
	base20, _ := segOf(0, 20)
	var deletedBytes int64
	l.opts.Hooks.OnRetention = func(p int, base, bytes int64) { deletedBytes += bytes }
	n, err = l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	wantStart := base20 // segments ending at or below 20 go
	if got := l.StartOffset(0); got != wantStart {
		t.Fatalf("StartOffset(0) = %d, want %d (segments %v)", got, wantStart, bases(0))
	}
	if got := l.StartOffset(1); got != 0 {
		t.Fatalf("StartOffset(1) = %d, want 0: consumer a never committed partition 1", got)
	}
	if n == 0 || deletedBytes == 0 {
		t.Fatalf("EnforceRetention deleted %d segments, %d bytes", n, deletedBytes)
	}
	if _, err := os.Stat(segPath(dir, 0, 0)); !os.IsNotExist(err) {
		t.Fatalf("first segment still on disk: %v", err)
	}
	checkPayloads(t, l, 0, wantStart, 80)
	_, err = l.NewReader(0, wantStart-1)
	if reco.KindOf(err) != reco.Invalid || !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("NewReader below StartOffset: %v", err)
	}

	// Without "a", only age holds segments back: the newer ones stay.
	l.RemoveConsumer("a")
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		start := l.StartOffset(p)
		base, _ := segOf(p, 40)
		if start > base || start < 20 {
			t.Fatalf("partition %d StartOffset %d: want old segments gone, segment with 40 (base %d) kept", p, start, base)
		}
		checkPayloads(t, l, p, start, 80)
	}

	// Committed offsets survive reopen; the last segment is never deleted.
	l.SetCommitted("c", 1, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Add(24 * time.Hour)
	l = mustOpen(t, opts)
	defer l.Close()
	if got := l.Committed("c", 1); got != 5 {
		t.Fatalf("Committed(c, 1) after reopen = %d, want 5", got)
	}
	l.RemoveConsumer("c")
	l.SetCommitted("b", 0, 1000)
	l.SetCommitted("b", 1, 1000)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		if b := bases(p); len(b) != 1 {
			t.Fatalf("partition %d segments %v, want only the last", p, b)
		}
		checkPayloads(t, l, p, l.StartOffset(p), 80)
	}
}

func TestReopenPartitionCount(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, Options{Dir: dir, Partitions: 4})
	l.Close()
	tests := []struct {
		name       string
		partitions int
		want       int
		wantKind   reco.Kind
	}{
		{"same", 4, 4, 0},
		{"stored", 0, 4, 0},
		{"different", 8, 0, reco.Invalid},
		{"fewer", 2, 0, reco.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(Options{Dir: dir, Partitions: tt.partitions})
			if tt.wantKind != 0 {
				if err == nil {
					l.Close()
					t.Fatal("Open: no error")
				}
				if reco.KindOf(err) != tt.wantKind {
					t.Fatalf("Open: %v, want kind %v", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Partitions() != tt.want {
				t.Fatalf("Partitions = %d, want %d", l.Partitions(), tt.want)
			}
		})
	}
	l, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Partitions() != 8 {
		t.Fatalf("default Partitions = %d, want 8", l.Partitions())
	}
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, Options{Dir: dir})
	defer l.Close()
	if l2, err := Open(Options{Dir: dir}); err == nil {
		l2.Close()
		t.Fatal("second Open of the same directory succeeded")
	} else if reco.KindOf(err) != reco.Conflict {
		t.Fatalf("second Open: %v, want a Conflict error", err)
	}
}

func TestAfterClose(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: 1})
	mustAppend(t, l, []Record{{0, []byte("a")}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { _, err := l.Append(context.Background(), []Record{{0, []byte("b")}}); return err }},
		{"empty Append", func() error { _, err := l.Append(context.Background(), nil); return err }},
		{"Sync", l.Sync},
		{"NewReader", func() error { _, err := l.NewReader(0, 0); return err }},
		{"EnforceRetention", func() error { _, err := l.EnforceRetention(); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if reco.KindOf(err) != reco.Unavailable || !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close: %v, want Unavailable ErrClosed", tt.name, err)
			}
		})
	}
}

func TestAppendInvalid(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: 2, MaxRecordBytes: 10})
	defer l.Close()
	tests := []struct {
		name string
		recs []Record
		want reco.Kind
	}{
		{"negative partition", []Record{{-1, nil}}, reco.Invalid},
		{"partition too big", []Record{{0, nil}, {2, nil}}, reco.Invalid},
		{"record too large", []Record{{0, make([]byte, 11)}}, reco.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Append(context.Background(), tt.recs)
			if reco.KindOf(err) != tt.want {
				t.Fatalf("Append: %v, want kind %v", err, tt.want)
			}
			if l.EndOffset(0) != 0 {
				t.Fatal("a rejected batch became visible")
			}
		})
	}
	// Empty records are fine and distinct from a zeroed disk block.
	offs := mustAppend(t, l, []Record{{0, nil}, {0, []byte{}}})
	if offs[1] != 1 {
		t.Fatalf("offsets %v", offs)
	}
	if _, data := readAll(t, l, 0, 0); len(data) != 2 || len(data[0]) != 0 {
		t.Fatalf("read %q", data)
	}
}

func TestNoSpace(t *testing.T) {
	tests := []struct {
		name       string
		segBytes   int64
		budget     int64 // bytes writable before ENOSPC
		failCreate bool
	}{
		{"first byte", 0, 0, false},
		{"mid batch", 0, 700, false},
		{"mid record", 0, 1003, false},
		{"while rolling", 300, 1200, false},
		{"creating a segment", 300, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			opts := Options{Dir: dir, Partitions: 3, SegmentBytes: tt.segBytes, OpenFile: ffs.open}
			l := mustOpen(t, opts)
			defer l.Close()
			fill(t, l, 5)
			sizes := segmentSizes(t, dir)

			ffs.set(tt.budget, tt.failCreate)
			var recs []Record
			for i := range 60 {
				p := i % 3
				recs = append(recs, Record{Partition: p, Data: payload(p, 5+int64(i/3))})
			}
			_, err := l.Append(context.Background(), recs)
			if reco.KindOf(err) != reco.NoSpace {
				t.Fatalf("Append: %v, want a NoSpace error", err)
			}
			for p := range 3 {
				if got := l.EndOffset(p); got != 5 {
					t.Fatalf("EndOffset(%d) = %d after failed Append, want 5", p, got)
				}
				checkPayloads(t, l, p, 0, 5) // nothing partial is visible
			}
			if got := segmentSizes(t, dir); fmt.Sprint(got) != fmt.Sprint(sizes) {
				t.Fatalf("segment files after failure %v, before %v", got, sizes)
			}

			ffs.set(-1, false) // space is back
			offs := mustAppend(t, l, recs)
			if offs[0] != 5 || offs[len(offs)-1] != 24 {
				t.Fatalf("offsets after recovery %v", offs)
			}
			for p := range 3 {
				checkPayloads(t, l, p, 0, 25)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, opts)
			if rec := l.Recovered(); len(rec) != 0 {
				t.Fatalf("Recovered = %v", rec)
			}
			for p := range 3 {
				checkPayloads(t, l, p, 0, 25)
			}
		})
	}
}

// segmentSizes maps each segment file under dir to its size.
func segmentSizes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	matches, err := filepath.Glob(filepath.Join(dir, "p*", "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range matches {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		m[path] = info.Size()
	}
	return m
}

func TestAppendCancel(t *testing.T) {
	ffs := newFaultFS()
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: 1, OpenFile: ffs.open})
	defer l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, []Record{{0, []byte("x")}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with canceled ctx: %v", err)
	}

	// Hold the writer inside the first batch's write, queue a second batch,
	// cancel it: it is dropped, the first lands.
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	ffs.mu.Lock()
	ffs.block, ffs.entered = block, entered
	ffs.mu.Unlock()
	first := make(chan error, 1)
	go func() {
		_, err := l.Append(context.Background(), []Record{{0, []byte("first")}})
		first <- err
	}()
	<-entered
	ctx, cancel = context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, []Record{{0, []byte("second")}})
		second <- err
	}()
	waitFor(t, func() bool {
		l.qmu.Lock()
		defer l.qmu.Unlock()
		return len(l.queue) == 1
	})
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("second Append: %v", err)
	}
	ffs.mu.Lock()
	ffs.block = nil
	ffs.mu.Unlock()
	close(block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, data := readAll(t, l, 0, 0); len(data) != 1 || string(data[0]) != "first" {
		t.Fatalf("read %q, want only the first batch", data)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHooksAndIntervalSync(t *testing.T) {
	var mu sync.Mutex
	var appended, fsyncs int
	l := mustOpen(t, Options{Dir: t.TempDir(), Partitions: 2, Fsync: FsyncInterval, FsyncInterval: 5 * time.Millisecond,
		Hooks: Hooks{
			OnAppend: func(records, bytes int, took time.Duration) { mu.Lock(); appended += records; mu.Unlock() },
			OnFsync:  func(took time.Duration) { mu.Lock(); fsyncs++; mu.Unlock() },
		}})
	defer l.Close()
	mustAppend(t, l, []Record{{0, []byte("a")}, {1, []byte("b")}})
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return fsyncs > 0 })
	mu.Lock()
	defer mu.Unlock()
	if appended != 2 {
		t.Fatalf("OnAppend saw %d records", appended)
	}
}
