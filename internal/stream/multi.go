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
// offsets. Each part's snapshot is framed with its name and length. A
// checkpoint whose parts differ from this build's (a part was added) fails
// to restore, so the log is replayed and every part is rebuilt from it.
type Multi struct {
	Names  []string
	States []State
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

// Restore reads a snapshot written by Snapshot with the same parts in the
// same order; anything else is an error (the caller then replays the log).
func (m *Multi) Restore(r io.Reader) error {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if int(n) != len(m.States) {
		return fmt.Errorf("restore: checkpoint has %d state parts, this build has %d", n, len(m.States))
	}
	for i, s := range m.States {
		name, err := readFrame(r)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if string(name) != m.Names[i] {
			return fmt.Errorf("restore: checkpoint part %d is %q, this build expects %q", i, name, m.Names[i])
		}
		body, err := readFrame(r)
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		if err := s.Restore(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
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
