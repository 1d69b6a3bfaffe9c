package seglog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashDirEnv = "SEGLOG_CRASH_CHILD_DIR"

var crashOpts = Options{Partitions: 4, SegmentBytes: 32 << 10, Fsync: FsyncAlways}

// TestCrashChild is the child side of TestCrashKill: it appends until it is
// killed and prints "ACK partition offset data ." for every acknowledged
// record.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKill")
	}
	opts := crashOpts
	opts.Dir = dir
	l, err := Open(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			for seq := 0; ; seq++ {
				recs := make([]Record, 1+rng.IntN(40))
				for i := range recs {
					p := rng.IntN(crashOpts.Partitions)
					pad := strings.Repeat("z", rng.IntN(300))
					recs[i] = Record{Partition: p, Data: fmt.Appendf(nil, "pid%d-w%d-b%d-r%d-%s", os.Getpid(), w, seq, i, pad)}
				}
				offs, err := l.Append(context.Background(), recs)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				var b bytes.Buffer
				for i, r := range recs {
					fmt.Fprintf(&b, "ACK %d %d %s .\n", r.Partition, offs[i], r.Data)
				}
				out.Lock()
				os.Stdout.Write(b.Bytes())
				out.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	type key struct {
		p   int
		off int64
	}
	acked := map[key]string{}
	for round := range 3 { // kill the same log several times
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		n := 0
		deadline := time.After(10 * time.Second)
		want := 2000 + rand.IntN(3000)
	read:
		for line := range lines {
			f := strings.Fields(line)
			if len(f) != 5 || f[0] != "ACK" || f[4] != "." {
				continue // a line cut by the kill
			}
			p, _ := strconv.Atoi(f[1])
			off, _ := strconv.ParseInt(f[2], 10, 64)
			k := key{p, off}
			if prev, dup := acked[k]; dup {
				t.Fatalf("round %d: offset %d/%d acknowledged twice: %s and %s", round, p, off, prev, f[3])
			}
			acked[k] = f[3]
			n++
			select {
			case <-deadline:
				break read
			default:
			}
			if n >= want {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for line := range lines { // acknowledgements printed before the kill
			if f := strings.Fields(line); len(f) == 5 && f[0] == "ACK" && f[4] == "." {
				p, _ := strconv.Atoi(f[1])
				off, _ := strconv.ParseInt(f[2], 10, 64)
				acked[key{p, off}] = f[3]
				n++
			}
		}
		cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: child acknowledged nothing; stderr: %s", round, stderr.String())
		}
		t.Logf("round %d: %d acknowledged records before SIGKILL", round, n)

		opts := crashOpts
		opts.Dir = dir
		l := mustOpen(t, opts)
		t.Logf("round %d: recovered %+v", round, l.Recovered())
		for p := range opts.Partitions {
			offs, data := readAll(t, l, p, 0)
			if int64(len(offs)) != l.EndOffset(p) {
				t.Fatalf("partition %d: read %d records, EndOffset %d", p, len(offs), l.EndOffset(p))
			}
			for i, off := range offs {
				if off != int64(i) {
					t.Fatalf("partition %d: offset %d at position %d", p, off, i)
				}
				if want, ok := acked[key{p, off}]; ok && want != string(data[i]) {
					t.Fatalf("partition %d offset %d: %q, acknowledged %q", p, off, data[i], want)
				}
			}
		}
		for k := range acked {
			if k.off >= l.EndOffset(k.p) {
				t.Fatalf("acknowledged partition %d offset %d missing (EndOffset %d)", k.p, k.off, l.EndOffset(k.p))
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
