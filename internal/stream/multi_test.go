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
