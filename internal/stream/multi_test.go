package stream

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/recohq/reco/internal/event"
)

// counter is a tiny State: it counts records.
type counter struct{ n int }

func (c *counter) Apply(*event.Record) { c.n++ }
func (c *counter) Snapshot(w io.Writer) error {
	_, err := w.Write([]byte(strings.Repeat("x", c.n)))
	return err
}
func (c *counter) Restore(r io.Reader) error { b, err := io.ReadAll(r); c.n = len(b); return err }

func TestMultiRoundTrip(t *testing.T) {
	a, b := &counter{}, &counter{}
	m := &Multi{Names: []string{"a", "b"}, States: []State{a, b}}
	for i := 0; i < 7; i++ {
		m.Apply(&event.Record{})
	}
	b.n = 3 // the parts are independent
	var buf bytes.Buffer
	if err := m.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	a2, b2 := &counter{}, &counter{}
	if err := (&Multi{Names: []string{"a", "b"}, States: []State{a2, b2}}).Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if a2.n != 7 || b2.n != 3 {
		t.Errorf("restored %d and %d, want 7 and 3", a2.n, b2.n)
	}
	// A build with another set of parts refuses the checkpoint.
	for _, names := range [][]string{{"a"}, {"a", "c"}} {
		states := make([]State, len(names))
		for i := range states {
			states[i] = &counter{}
		}
		if err := (&Multi{Names: names, States: states}).Restore(bytes.NewReader(buf.Bytes())); err == nil {
			t.Errorf("parts %v restored a checkpoint of parts a, b", names)
		}
	}
}

// optional is a counter that may start empty when a checkpoint lacks it.
type optional struct {
	counter
	empty bool
}

func (o *optional) StartsEmpty() bool { return o.empty }

var _ StartsEmpty = (*optional)(nil)

func snapshotOf(t *testing.T, m *Multi) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMultiSnapshotFormat pins the layout: part count, then name and body
// frames (uint64 length, bytes), little-endian.
func TestMultiSnapshotFormat(t *testing.T) {
	got := snapshotOf(t, &Multi{Names: []string{"a", "bb"}, States: []State{&counter{n: 2}, &counter{n: 0}}})
	want := []byte{
		2, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0, 'a',
		2, 0, 0, 0, 0, 0, 0, 0, 'x', 'x',
		2, 0, 0, 0, 0, 0, 0, 0, 'b', 'b',
		0, 0, 0, 0, 0, 0, 0, 0,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("snapshot\n%v\nwant\n%v", got, want)
	}
}

func TestMultiRestoreByName(t *testing.T) {
	old := snapshotOf(t, &Multi{Names: []string{"a", "b"}, States: []State{&counter{n: 4}, &counter{n: 5}}})

	t.Run("parts in another order", func(t *testing.T) {
		a, b := &counter{}, &counter{}
		if err := (&Multi{Names: []string{"b", "a"}, States: []State{b, a}}).Restore(bytes.NewReader(old)); err != nil {
			t.Fatal(err)
		}
		if a.n != 4 || b.n != 5 {
			t.Errorf("restored a=%d b=%d, want 4 and 5", a.n, b.n)
		}
	})
	t.Run("new part that starts empty", func(t *testing.T) {
		a, b, d := &counter{}, &counter{}, &optional{counter: counter{n: 9}, empty: true}
		m := &Multi{Names: []string{"dedupe", "a", "b"}, States: []State{d, a, b}}
		if err := m.Restore(bytes.NewReader(old)); err != nil {
			t.Fatal(err)
		}
		if a.n != 4 || b.n != 5 || d.n != 9 {
			t.Errorf("restored a=%d b=%d new=%d, want 4, 5 and 9 (left as constructed)", a.n, b.n, d.n)
		}
		// Once checkpointed with the new part, it is restored like any other.
		d.n = 2
		a2, b2, d2 := &counter{}, &counter{}, &optional{empty: true}
		if err := (&Multi{Names: []string{"dedupe", "a", "b"}, States: []State{d2, a2, b2}}).Restore(bytes.NewReader(snapshotOf(t, m))); err != nil {
			t.Fatal(err)
		}
		if d2.n != 2 || a2.n != 4 || b2.n != 5 {
			t.Errorf("second restore: new=%d a=%d b=%d, want 2, 4, 5", d2.n, a2.n, b2.n)
		}
	})
	for _, tt := range []struct {
		name   string
		names  []string
		states []State
	}{
		{"new part without StartsEmpty", []string{"a", "b", "c"}, []State{&counter{}, &counter{}, &counter{}}},
		{"new part whose StartsEmpty is false", []string{"c", "a", "b"}, []State{&optional{}, &counter{}, &counter{}}},
		{"part unknown to this build", []string{"a"}, []State{&counter{}}},
		{"part unknown to this build, renamed", []string{"a", "c"}, []State{&counter{}, &optional{empty: true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := (&Multi{Names: tt.names, States: tt.states}).Restore(bytes.NewReader(old)); err == nil {
				t.Errorf("parts %v restored a checkpoint of parts a, b", tt.names)
			} else {
				t.Log(err)
			}
		})
	}
	t.Run("part twice in the checkpoint", func(t *testing.T) {
		twice := snapshotOf(t, &Multi{Names: []string{"a", "a"}, States: []State{&counter{n: 1}, &counter{n: 2}}})
		if err := (&Multi{Names: []string{"a"}, States: []State{&counter{}}}).Restore(bytes.NewReader(twice)); err == nil {
			t.Error("restored a checkpoint naming a part twice")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(old); n++ {
			if err := (&Multi{Names: []string{"a", "b"}, States: []State{&counter{}, &counter{}}}).Restore(bytes.NewReader(old[:n])); err == nil {
				t.Fatalf("restored %d of %d bytes", n, len(old))
			}
		}
	})
}
