package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
)

func offlineFixture(t *testing.T) (dataDir string, t0 int64) {
	t.Helper()
	dataDir = t.TempDir()
	st, err := offline.New(fileblob.New(filepath.Join(dataDir, "offline")), offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC).UnixMilli()
	row := func(u string, at, clicks int64) offline.Row {
		return offline.Row{Key: u, Time: at, Values: []offline.Value{offline.Int(clicks), offline.Int(clicks), offline.Int(0),
			offline.Int(0), offline.Float(0), offline.Int(1), offline.Int(at - 5000), offline.Int(at - 1000)}}
	}
	ctx := context.Background()
	for _, err := range []error{
		st.WriteRows(ctx, offline.UserFeatures, "a", []offline.Row{row("u1", t0, 3), row("u2", t0, 4)}),
		st.WriteRows(ctx, offline.UserFeatures, "b", []offline.Row{row("u1", t0+300_000, 5)}),
		st.WriteEvents(ctx, offline.EventsSet, "e", []event.Event{
			{Type: event.Click, UserID: "u1", ProductID: "p1", Quantity: 1, Price: -1, Time: t0},
			{Type: event.View, UserID: "u2", ProductID: "p2", Quantity: 1, Price: -1, Time: t0 + 1},
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dataDir, t0
}

func runReco(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

func TestFeaturesHistory(t *testing.T) {
	dir, t0 := offlineFixture(t)
	ents := filepath.Join(dir, "ents.csv")
	os.WriteFile(ents, []byte("user_id,timestamp,label\n"+
		"u1,2025-03-10T12:00:00Z,1\n"+ // equal timestamp: the first row
		"u1,2025-03-10T12:04:59.999Z,0\n"+ // still the first
		"u1,"+msStr(t0+300_000)+",1\n"+ // Unix ms: the second row
		"u2,2025-03-10T11:59:59Z,0\n"+ // before any row: empty
		"u3,2025-03-10T12:00:00Z,0\n"), 0o644)
	out := filepath.Join(dir, "out.csv")
	msg, err := runReco("features", "history", "--data", dir, "--entities", ents, "--features", "user_features:clicks,user_features:last_event_time", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	data, _ := os.ReadFile(out)
	recs, _ := csv.NewReader(bytes.NewReader(data)).ReadAll()
	want := [][]string{
		{"user_id", "timestamp", "clicks", "last_event_time"},
		{"u1", "2025-03-10T12:00:00Z", "3", "2025-03-10T11:59:59.000Z"},
		{"u1", "2025-03-10T12:04:59.999Z", "3", "2025-03-10T11:59:59.000Z"},
		{"u1", msStr(t0 + 300_000), "5", "2025-03-10T12:04:59.000Z"},
		{"u2", "2025-03-10T11:59:59Z", "", ""},
		{"u3", "2025-03-10T12:00:00Z", "", ""},
	}
	if strings.Join(flat(recs), "|") != strings.Join(flat(want), "|") {
		t.Fatalf("got\n%s\nwant %v", data, want)
	}
	// Parquet out, then Parquet in.
	pq := filepath.Join(dir, "out.parquet")
	if msg, err := runReco("features", "history", "--data", dir, "--entities", ents, "--features", "user_features:clicks", "--out", pq); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	out2 := filepath.Join(dir, "out2.csv")
	if msg, err := runReco("features", "history", "--data", dir, "--entities", pq, "--features", "user_features:clicks", "--out", out2); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	data, _ = os.ReadFile(out2)
	if !strings.Contains(string(data), "u1,2025-03-10T12:05:00.000Z,5") {
		t.Fatalf("parquet round trip:\n%s", data)
	}
}

func msStr(n int64) string { return strconv.FormatInt(n, 10) }

func flat(rs [][]string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

func TestFeaturesHistoryBadInput(t *testing.T) {
	dir, _ := offlineFixture(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	good := write("good.csv", "user_id,timestamp\nu1,1\n")
	cases := []struct {
		name, entities, features, out, want string
	}{
		{"unknown view", good, "nope:clicks", "o.csv", `unknown view "nope"`},
		{"unknown feature", good, "user_features:nope", "o.csv", `view user_features has no feature "nope"`},
		{"mixed views", good, "user_features:clicks,product_features:price", "o.csv", "one view"},
		{"bad feature syntax", good, "clicks", "o.csv", "want VIEW:NAME"},
		{"missing entity column", write("m.csv", "product_id,timestamp\np,1\n"), "user_features:clicks", "o.csv", "missing column user_id"},
		{"missing timestamp column", write("m2.csv", "user_id,ts\nu,1\n"), "user_features:clicks", "o.csv", "missing column timestamp"},
		{"bad timestamp", write("b.csv", "user_id,timestamp\nu1,1\nu2,yesterday\n"), "user_features:clicks", "o.csv", `line 3: bad timestamp "yesterday"`},
		{"bad output format", good, "user_features:clicks", "o.json", "want a .csv or .parquet file"},
		{"missing file", filepath.Join(dir, "none.csv"), "user_features:clicks", "o.csv", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runReco("features", "history", "--data", dir, "--entities", c.entities, "--features", c.features, "--out", filepath.Join(dir, c.out))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
			if line := oneLine(err); strings.Contains(line, "\n") {
				t.Fatalf("not one line: %q", line)
			}
		})
	}
}

func TestCompactCommand(t *testing.T) {
	dir, _ := offlineFixture(t)
	msg, err := runReco("compact", "--data", dir, "--before", "2025-03-11")
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	if !strings.Contains(msg, "compacted 1 of 2 partitions") || !strings.Contains(msg, "2 files -> 1, 3 rows") {
		t.Fatalf("summary:\n%s", msg)
	}
	if _, err := runReco("compact", "--data", dir, "--before", "soon"); err == nil {
		t.Fatal("bad --before accepted")
	}
}

func TestMaterialize(t *testing.T) {
	dir, _ := offlineFixture(t)
	msg, err := runReco("materialize", "--data", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	if !strings.Contains(msg, "materialized 2 events from 1 archive files") {
		t.Fatalf("first run:\n%s", msg)
	}
	// Incremental: nothing new.
	msg, err = runReco("materialize", "--data", dir)
	if err != nil || !strings.Contains(msg, "materialized 0 events") || !strings.Contains(msg, "1 files loaded before") {
		t.Fatalf("second run: %v\n%s", err, msg)
	}
	// Ignoring the ledger still skips what the log holds.
	msg, err = runReco("materialize", "--data", dir, "--full")
	if err != nil || !strings.Contains(msg, "materialized 0 events") || !strings.Contains(msg, "2 already in the log") {
		t.Fatalf("full run: %v\n%s", err, msg)
	}
}
