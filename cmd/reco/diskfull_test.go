package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/config"
)

// TestDiskFull runs the data dir on a tiny tmpfs: once it is full, ingest
// answers 507 and acknowledges nothing; when space returns, ingest resumes
// by itself and every acknowledged event is in the features. Needs root (to
// mount); skipped otherwise unless RECO_TEST_DISKFULL=1.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("RECO_TEST_DISKFULL") == "1" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (%v): run as root", err)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.EventLog.SegmentBytes = 1 << 16
	cfg.OnlineStore.CheckpointInterval = config.Duration(time.Hour) // the checkpoint would compete for the space
	cfg.Recommend.PrecomputeSchedule = ""
	s := startServer(t, cfg)

	acked, refused := 0, 0
	var status []int
	for b := 0; b < 400 && refused < 3; b++ {
		var lines []string
		for i := 0; i < 50; i++ {
			lines = append(lines, fmt.Sprintf(`{"user_id":"full%d","event_type":"view","product_id":"p%d","session_id":"%s"}`, i%10, b, strings.Repeat("s", 40)))
		}
		code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", ndjson(lines...), nil)
		switch code {
		case 202:
			acked += 50
		case 507, 503:
			refused++
		default:
			t.Fatalf("batch %d: status %d", b, code)
		}
		status = append(status, code)
	}
	if refused == 0 {
		t.Fatalf("the 1 MiB disk never filled (%d events acknowledged)", acked)
	}
	if acked == 0 {
		t.Fatal("nothing acknowledged before the disk filled")
	}
	// Space returns: ingest goes on without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	for i := 0; i < 10; i++ {
		line := `{"user_id":"full0","event_type":"click","product_id":"p1"}`
		if code := do(t, "POST", s.URL+"/v1/events", "", line, nil); code != 202 {
			t.Fatalf("after space returned: %d", code)
		}
		acked++
	}
	s.settle()
	var total int64
	for u := 0; u < 10; u++ {
		var uf userFeatures
		do(t, "GET", fmt.Sprintf("%s/v1/users/full%d/features", s.URL, u), "", "", &uf)
		total += uf.Features.TotalEvents
	}
	if total != int64(acked) {
		t.Errorf("features count %d events, %d were acknowledged (refused batches: %d)", total, acked, refused)
	}
	t.Logf("%d events acknowledged, %d batches refused with %v", acked, refused, status[len(status)-1])
}
