package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/event"
)

// Source is the log as the processor sees it.
type Source interface {
	Partitions() int
	// EndOffset is the offset the next record of partition p will get.
	EndOffset(p int) int64
	// Open reads partition p from offset from.
	Open(p int, from int64) (Reader, error)
	// Commit tells the log that records of p below off are checkpointed.
	Commit(p int, off int64)
}

// Reader reads one partition. Next blocks until a record arrives or ctx
// ends; data is valid until the next call.
type Reader interface {
	Next(ctx context.Context) (off int64, data []byte, err error)
	TryNext() (off int64, data []byte, ok bool, err error)
	Close() error
}

// State is what the processor keeps current.
type State interface {
	Apply(r *event.Record)
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

// Hooks observe the processor; each must be fast and safe for concurrent use.
type Hooks struct {
	OnApplied    func(records int)
	OnCheckpoint func(took time.Duration, bytes int64, err error)
	OnBadRecord  func(partition int, off int64, err error)
	// OnFreshness reports, once per applied batch, how long ago its newest
	// event was acknowledged (the event-to-feature delay).
	OnFreshness func(delay time.Duration)
}

// Options configure a Processor.
type Options struct {
	Dir                string        // where checkpoints live
	CheckpointInterval time.Duration // 0 means 10s
	// PartitionIDs, when set, gives the global partition number of each of
	// the source's partitions (PartitionIDs[i] for partition i), for a
	// processor that runs over a subset of a topic's partitions. It must
	// have one entry per partition. By default partition i is number i.
	// Every applied record carries its number in event.Record.Partition.
	PartitionIDs []int
	Hooks        Hooks
}

// Processor applies the log to the state.
type Processor struct {
	src   Source
	state State
	opt   Options

	applyMu sync.RWMutex // held shared while a batch is applied, exclusively by Checkpoint
	mu      sync.Mutex
	offsets []int64 // next offset to apply, per partition
	cond    *sync.Cond
	target  []int64 // end offsets at start: ready once reached
	ready   atomic.Bool
	applied atomic.Int64
}

// New returns a processor over src and state. It starts nothing.
func New(src Source, state State, o Options) *Processor {
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	p := &Processor{src: src, state: state, opt: o, offsets: make([]int64, src.Partitions())}
	p.cond = sync.NewCond(&p.mu)
	return p
}

const checkpointFile = "checkpoint"

// checkpoint file layout: magic, header length, header JSON, state bytes,
// CRC-32C of everything before it.
var checkpointMagic = []byte("RECOCKP1")

type checkpointHeader struct {
	Offsets []int64   `json:"offsets"`
	Written time.Time `json:"written"`
}

// Recover loads the newest checkpoint, if any, into the state and the
// offsets. Call it once before Run.
func (p *Processor) Recover() error {
	path := filepath.Join(p.opt.Dir, checkpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	if len(data) < len(checkpointMagic)+8 || string(data[:len(checkpointMagic)]) != string(checkpointMagic) {
		return fmt.Errorf("read checkpoint %s: not a checkpoint file", path)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("read checkpoint %s: checksum mismatch", path)
	}
	rest := body[len(checkpointMagic):]
	hl := binary.LittleEndian.Uint32(rest)
	rest = rest[4:]
	if int(hl) > len(rest) {
		return fmt.Errorf("read checkpoint %s: bad header length", path)
	}
	var h checkpointHeader
	if err := json.Unmarshal(rest[:hl], &h); err != nil {
		return fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if len(h.Offsets) != len(p.offsets) {
		return fmt.Errorf("read checkpoint %s: %d partitions, the log has %d", path, len(h.Offsets), len(p.offsets))
	}
	if err := p.state.Restore(bytes.NewReader(rest[hl:])); err != nil {
		return fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	p.mu.Lock()
	copy(p.offsets, h.Offsets)
	p.mu.Unlock()
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Offsets returns a copy of the next offset to apply per partition.
func (p *Processor) Offsets() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.offsets...)
}

// Ready reports whether the log as it stood when Run started is applied.
func (p *Processor) Ready() bool { return p.ready.Load() }

// Applied counts the records applied since start.
func (p *Processor) Applied() int64 { return p.applied.Load() }

// Lag is the number of records in the log not applied yet.
func (p *Processor) Lag() []int64 {
	offs := p.Offsets()
	for i := range offs {
		offs[i] = max(0, p.src.EndOffset(i)-offs[i])
	}
	return offs
}

// WaitFor blocks until every partition's applied offset reaches offs
// (records below offs[i] applied), or ctx ends.
func (p *Processor) WaitFor(ctx context.Context, offs []int64) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		done := true
		for i, o := range offs {
			if i < len(p.offsets) && p.offsets[i] < o {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p.cond.Wait()
	}
}

type item struct {
	off int64
	rec event.Record
}

// Run reads and applies until ctx ends, then writes a final checkpoint.
//
// Each partition has one goroutine that reads, decodes and applies its
// records in batches; State.Apply must therefore be safe for concurrent
// calls (records of one partition are applied in order). A checkpoint takes
// the apply lock exclusively, so it sees the state at batch boundaries of
// every partition, matching the offsets it records.
func (p *Processor) Run(ctx context.Context) error {
	n := p.src.Partitions()
	if ids := p.opt.PartitionIDs; ids != nil && len(ids) != n {
		return fmt.Errorf("stream options: PartitionIDs has %d entries for %d partitions", len(ids), n)
	}
	start := p.Offsets()
	p.target = make([]int64, n)
	for i := range p.target {
		p.target[i] = p.src.EndOffset(i)
	}
	p.checkReady(start)

	// What is applied from here on is not in a checkpoint yet. Read before
	// any reader starts: a record applied in between would otherwise look
	// checkpointed.
	last := p.applied.Load()
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		r, err := p.src.Open(i, start[i])
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("open partition %d at %d: %w", i, start[i], err)
		}
		wg.Add(1)
		go func(part int, r Reader) {
			defer wg.Done()
			defer r.Close()
			if err := p.consume(readCtx, part, r); err != nil && readCtx.Err() == nil {
				errc <- fmt.Errorf("read partition %d: %w", part, err)
				cancel()
			}
		}(i, r)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	tick := time.NewTicker(p.opt.CheckpointInterval)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-tick.C:
			if now := p.applied.Load(); now != last {
				if err := p.Checkpoint(); err == nil {
					last = now
				}
			}
		case <-done:
			break loop
		}
	}
	select {
	case runErr = <-errc:
	default:
	}
	if p.applied.Load() != last {
		if err := p.Checkpoint(); err != nil && runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// consume reads, decodes and applies one partition until ctx ends.
func (p *Processor) consume(ctx context.Context, part int, r Reader) error {
	id := part
	if p.opt.PartitionIDs != nil {
		id = p.opt.PartitionIDs[part]
	}
	items := make([]item, 0, 256)
	for {
		items = items[:0]
		// Block for the first record, then take what is already there.
		off, data, err := r.Next(ctx)
		if err != nil {
			return err
		}
		for {
			items = append(items, item{off: off})
			it := &items[len(items)-1]
			if err := event.Decode(data, &it.rec); err != nil {
				it.rec.Kind = 0 // skipped, so that the offset still advances
				if h := p.opt.Hooks.OnBadRecord; h != nil {
					h(part, off, err)
				}
			}
			it.rec.Partition = id
			if len(items) == cap(items) {
				break
			}
			var ok bool
			off, data, ok, err = r.TryNext()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
		p.apply(part, items)
	}
}

func (p *Processor) apply(part int, items []item) {
	p.applyMu.RLock()
	var ing int64
	for i := range items {
		it := &items[i]
		if it.rec.Kind != 0 {
			p.state.Apply(&it.rec)
			if it.rec.Kind == event.KindEvent {
				ing = max(ing, it.rec.Event.Ingested)
			}
		}
	}
	p.mu.Lock()
	p.offsets[part] = items[len(items)-1].off + 1
	p.cond.Broadcast()
	var offs []int64
	if !p.ready.Load() {
		offs = append(offs, p.offsets...)
	}
	p.mu.Unlock()
	p.applied.Add(int64(len(items)))
	p.applyMu.RUnlock()
	if offs != nil {
		p.checkReady(offs)
	}
	if h := p.opt.Hooks.OnFreshness; h != nil && ing > 0 {
		h(time.Since(time.UnixMilli(ing)))
	}
	if h := p.opt.Hooks.OnApplied; h != nil {
		h(len(items))
	}
}

func (p *Processor) checkReady(offs []int64) {
	for i, t := range p.target {
		if offs[i] < t {
			return
		}
	}
	p.ready.Store(true)
}

// Checkpoint writes the state and the offsets it reflects, atomically.
// Applying pauses while it runs. Safe to call at any time.
func (p *Processor) Checkpoint() (err error) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	start := time.Now()
	var size int64
	defer func() {
		if h := p.opt.Hooks.OnCheckpoint; h != nil {
			h(time.Since(start), size, err)
		}
	}()
	offs := p.Offsets()
	if err := os.MkdirAll(p.opt.Dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(p.opt.Dir, checkpointFile+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := crc32.New(castagnoli)
	w := &countWriter{w: io.MultiWriter(tmp, h)}
	hdr, _ := json.Marshal(checkpointHeader{Offsets: offs, Written: time.Now().UTC()})
	w.Write(checkpointMagic)
	w.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(hdr))))
	w.Write(hdr)
	if err := p.state.Snapshot(w); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if w.err != nil {
		return fmt.Errorf("checkpoint: %w", w.err)
	}
	if _, err := tmp.Write(binary.LittleEndian.AppendUint32(nil, h.Sum32())); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(p.opt.Dir, checkpointFile)); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if d, err := os.Open(p.opt.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	size = w.n + 4
	for i, o := range offs {
		p.src.Commit(i, o)
	}
	return nil
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Consistent runs fn while no batch is being applied, with the offsets the
// state reflects at that moment (records below offs[p] applied, none
// above). Exporters use it to pair state they copy with offsets.
func (p *Processor) Consistent(fn func(offs []int64)) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	fn(p.Offsets())
}
