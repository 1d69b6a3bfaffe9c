package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/recohq/reco/internal/event"
)

// Multi is a State made of several named states, applied in order and
// checkpointed together, so that all of them reflect exactly the same log
// offsets. Each part's snapshot is framed with its name and length.
//
// A checkpoint is restored part by part, matched by name (the order may
// differ). A part the checkpoint lacks (one added since it was written)
// fails the restore, so the log is replayed and every part is rebuilt from
// it, unless the part implements StartsEmpty and says true: then it is left
// as constructed. A part in the checkpoint that this build does not have
// fails the restore too.
type Multi struct {
	Names  []string
	States []State
}

// StartsEmpty is implemented by a State that may start empty when a
// checkpoint written before it existed is restored, rather than force a
// replay of the whole log: one whose state only matters for a short while
// (a filter of recent retries, say).
type StartsEmpty interface {
	StartsEmpty() bool
}

var _ State = (*Multi)(nil)

// Apply applies r to every part.
func (m *Multi) Apply(r *event.Record) {
	for _, s := range m.States {
		s.Apply(r)
	}
}

// Snapshot writes every part: name, length, bytes.
func (m *Multi) Snapshot(w io.Writer) error {
	binary.Write(w, binary.LittleEndian, uint32(len(m.States)))
	for i, s := range m.States {
		var buf bytes.Buffer
		if err := s.Snapshot(&buf); err != nil {
			return fmt.Errorf("snapshot %s: %w", m.Names[i], err)
		}
		if err := writeFrame(w, []byte(m.Names[i])); err != nil {
			return err
		}
		if err := writeFrame(w, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Restore reads a snapshot written by Snapshot, matching parts by name.
// It fails if the checkpoint holds a part this build does not know, names a
// part twice, or lacks a part that does not start empty; the caller then
// replays the log. Parts may have been restored when it fails.
func (m *Multi) Restore(r io.Reader) error {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	index := make(map[string]int, len(m.Names))
	for i, name := range m.Names {
		index[name] = i
	}
	restored := make([]bool, len(m.States))
	for range n {
		name, err := readFrame(r)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		i, ok := index[string(name)]
		switch {
		case !ok:
			return fmt.Errorf("restore: checkpoint has a part %q this build does not know (it has %q)", name, m.Names)
		case restored[i]:
			return fmt.Errorf("restore: checkpoint has part %q twice", name)
		}
		body, err := readFrame(r)
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		if err := m.States[i].Restore(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		restored[i] = true
	}
	for i, s := range m.States {
		if restored[i] {
			continue
		}
		if se, ok := s.(StartsEmpty); ok && se.StartsEmpty() {
			continue
		}
		return fmt.Errorf("restore: checkpoint has no part %q", m.Names[i])
	}
	return nil
}

func writeFrame(w io.Writer, b []byte) error {
	if err := binary.Write(w, binary.LittleEndian, uint64(len(b))); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	if n > 1<<40 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}
