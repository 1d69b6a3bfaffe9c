package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/stream"
	"github.com/recohq/reco/internal/window"
)

// kafkaWorkers is the stream side of a process when the event log is
// Kafka: a member of the consumer group that runs one stream processor per
// partition it owns.
//
// Each partition has its own state (the online features of its users, and
// its share of every product's counters, co-visitation and popularity; its
// offline windows), checkpointed with the partition's offset into the
// offline store's bucket, which every process shares. When a partition
// moves (a process joins, leaves or dies), its new owner restores that
// checkpoint and resumes from exactly its offset. The features reach Redis
// through offset-guarded writes: a user key is guarded by its partition's
// offset, and the keys that several partitions feed (products,
// co-visitation, the popularity index) hold one contribution per partition,
// each guarded by its own offset and merged on read. A replay after a
// crash or a move therefore never counts a record twice, and the Redis
// state equals a clean single-process run over the same topic.
//
// Experiment results, live analytics and feature views are tallied per
// process (teed from the partitions it runs, since it started): with more
// than one stream worker they are partial; ClickHouse is the shared view.
type kafkaWorkers struct {
	a   *App
	log *kafkalog.Log
	mem *kafkalog.Member

	opMu  sync.Mutex // serialises starting and stopping partitions
	mu    sync.Mutex // guards parts and mem
	parts map[int]*partWorker
	ctx   context.Context // parent of every worker; ends with Run
}

// partWorker runs one partition.
type partWorker struct {
	p      int
	store  *memstore.Store
	win    *window.Aggregator
	proc   *stream.Processor
	cancel context.CancelFunc
	done   chan struct{}
}

// checkpointKey is where partition p's checkpoint lives in the shared
// bucket: per topic and consumer group, so that several deployments (or a
// clean re-run under another group) never mix their states.
func (w *kafkaWorkers) checkpointKey(p int) string {
	return fmt.Sprintf("stream-checkpoints/%s/%s/p%04d", w.log.Topic(), w.log.Group(), p)
}

func (w *kafkaWorkers) dir(p int) string {
	return filepath.Join(w.a.Config.DataDir, "state", "kafka", fmt.Sprintf("p%04d", p))
}

// run joins the group and runs the owned partitions until ctx ends; then it
// stops every partition (final checkpoint, final Redis export) and leaves.
func (w *kafkaWorkers) run(ctx context.Context) error {
	w.ctx = ctx
	w.parts = map[int]*partWorker{}
	m, err := w.log.Join(ctx, kafkalog.GroupOptions{
		OnAssigned: func(_ context.Context, parts []int32) {
			for _, p := range parts {
				if err := w.start(int(p)); err != nil {
					w.a.Logger.Error("cannot run partition yet; retrying while it is ours", "partition", p, "err", err)
					go w.retryStart(int(p))
				}
			}
		},
		OnRevoked: func(_ context.Context, parts []int32) { w.stop(parts, true) },
		OnLost:    func(_ context.Context, parts []int32) { w.stop(parts, false) },
	})
	if err != nil {
		return fmt.Errorf("join consumer group %s: %w", w.log.Group(), err)
	}
	w.mu.Lock()
	w.mem = m
	w.mu.Unlock()
	<-ctx.Done()
	// Stop the partitions first (their final checkpoints commit while they
	// are still owned), then leave the group.
	w.mu.Lock()
	var all []int32
	for p := range w.parts {
		all = append(all, int32(p))
	}
	w.mu.Unlock()
	w.stop(all, true)
	m.Close()
	return nil
}

// start restores partition p from its shared checkpoint and runs it.
func (w *kafkaWorkers) start(p int) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	_, running := w.parts[p]
	m := w.mem
	w.mu.Unlock()
	if running || (m != nil && !slices.Contains(m.Owned(), int32(p))) {
		return nil // already running, or moved away meanwhile (a retry)
	}
	a := w.a
	dir := w.dir(p)
	if err := w.fetchCheckpoint(p, dir); err != nil {
		return err
	}
	pw := &partWorker{p: p, done: make(chan struct{})}
	pw.store = memstore.New(memstore.Options{Features: a.features, Now: a.now, TrackDirty: true})
	var err error
	pw.win, err = window.New(a.Offline, window.Options{Name: fmt.Sprintf("p%04d", p), Hooks: window.Hooks{
		OnLate: func(n int) { a.Metrics.LateEvents.Add(float64(n)) },
	}})
	if err != nil {
		return err
	}
	state := &teeState{
		Multi: stream.Multi{Names: []string{"dedupe", "online", "windows"}, States: []stream.State{a.newDedupe(), pw.store, pw.win}},
		tee:   []stream.State{a.Accum, a.Analytics, a.Views},
	}
	opts := a.procOptions(dir, func() { pw.win.Committed() })
	opts.PartitionIDs = []int{p} // records carry the topic's partition number
	src := partSource{w: w, p: p, dir: dir}
	pw.proc = stream.New(src, state, opts)
	if err := pw.proc.Recover(); err != nil {
		return fmt.Errorf("restore partition %d: %w", p, err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	pw.cancel = cancel
	w.mu.Lock()
	w.parts[p] = pw
	w.mu.Unlock()
	a.Logger.Info("running partition", "partition", p, "from_offset", pw.proc.Offsets()[0])
	go pw.run(ctx, a, w)
	return nil
}

// retryStart starts p every few seconds until it runs, or it is no
// longer this member's, or the workers stop.
func (w *kafkaWorkers) retryStart(p int) {
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
		w.mu.Lock()
		m := w.mem
		w.mu.Unlock()
		if m == nil || !slices.Contains(m.Owned(), int32(p)) {
			return
		}
		err := w.start(p)
		if err == nil {
			return
		}
		w.a.Logger.Error("cannot run partition yet; retrying", "partition", p, "err", err)
	}
}

// run runs the processor, the Redis export, the popularity index and the
// window writer of one partition; when ctx ends, the processor's final
// checkpoint comes first and the export that covers it next.
func (pw *partWorker) run(ctx context.Context, a *App, w *kafkaWorkers) {
	defer close(pw.done)
	var side sync.WaitGroup
	sideCtx, stopSide := context.WithCancel(context.Background())
	side.Add(2)
	go func() {
		defer side.Done()
		pw.win.Run(sideCtx, 10*time.Second, func(err error) {
			a.Logger.Warn("offline store write failed; retrying", "partition", pw.p, "err", err)
		})
	}()
	go func() {
		defer side.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			pw.store.RefreshIndex()
			select {
			case <-sideCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	exCtx, stopEx := context.WithCancel(context.Background())
	exDone := make(chan struct{})
	go func() {
		defer close(exDone)
		a.exportRedis(exCtx, a.Redis, 100*time.Millisecond, exportSource{
			store: pw.store, proc: pw.proc, partition: pw.p, partitions: w.log.Partitions()})
	}()
	for {
		// Run returns early only when reading fails (the brokers went
		// away): it keeps the applied offset, so running it again resumes
		// exactly there.
		err := pw.proc.Run(ctx)
		if ctx.Err() != nil {
			break
		}
		a.Logger.Warn("reading a partition failed; retrying", "partition", pw.p, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
		if ctx.Err() != nil {
			break
		}
	}
	pw.store.RefreshIndex() // the last export carries the final index
	stopEx()
	<-exDone
	stopSide()
	side.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := pw.win.Flush(fctx); err != nil {
		a.Logger.Warn("offline flush of a stopped partition; its next owner writes it", "partition", pw.p, "err", err)
	}
	cancel()
}

// stop stops parts and waits for them. owned tells whether they are still
// this member's: a final checkpoint is committed then; a lost partition
// (another member may own it already) only stops.
func (w *kafkaWorkers) stop(parts []int32, owned bool) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	var ws []*partWorker
	w.mu.Lock()
	for _, p := range parts {
		if pw, ok := w.parts[int(p)]; ok {
			ws = append(ws, pw)
			delete(w.parts, int(p))
		}
	}
	w.mu.Unlock()
	for _, pw := range ws {
		pw.cancel()
	}
	for _, pw := range ws {
		<-pw.done
		w.a.Logger.Info("stopped partition", "partition", pw.p, "at_offset", pw.proc.Offsets()[0], "committed", owned)
	}
}

// ready reports whether every owned partition has caught up with the log
// as it stood when it started.
func (w *kafkaWorkers) ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mem == nil {
		return false
	}
	for _, pw := range w.parts {
		if !pw.proc.Ready() {
			return false
		}
	}
	return true
}

// stores returns the online state of every partition running here.
func (w *kafkaWorkers) stores() []*memstore.Store {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*memstore.Store, 0, len(w.parts))
	for _, pw := range w.parts {
		out = append(out, pw.store)
	}
	return out
}

// owned counts the partitions running here.
func (w *kafkaWorkers) owned() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parts)
}

// lag returns the records not yet applied, per owned partition.
func (w *kafkaWorkers) lag() map[int]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int]int64, len(w.parts))
	for p, pw := range w.parts {
		out[p] = pw.proc.Lag()[0]
	}
	return out
}

// waitApplied waits until every owned partition has applied offs.
func (w *kafkaWorkers) waitApplied(ctx context.Context, offs []int64) error {
	w.mu.Lock()
	ws := make([]*partWorker, 0, len(w.parts))
	for _, pw := range w.parts {
		ws = append(ws, pw)
	}
	w.mu.Unlock()
	for _, pw := range ws {
		if err := pw.proc.WaitFor(ctx, []int64{offs[pw.p]}); err != nil {
			return err
		}
	}
	return nil
}

// fetchCheckpoint copies partition p's shared checkpoint into dir, or
// removes a local one when the bucket has none (a local file could be
// older than what the previous owners applied, or from another group).
func (w *kafkaWorkers) fetchCheckpoint(p int, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	local := filepath.Join(dir, "checkpoint")
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	obj, err := w.a.Offline.Bucket().Get(ctx, w.checkpointKey(p))
	if reco.KindOf(err) == reco.NotFound {
		if err := os.Remove(local); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetch the checkpoint of partition %d: %w", p, err)
	}
	defer obj.Close()
	data := make([]byte, obj.Size())
	if _, err := obj.ReadAt(data, 0); err != nil && len(data) > 0 {
		return fmt.Errorf("fetch the checkpoint of partition %d: %w", p, err)
	}
	tmp := local + ".fetch"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, local)
}

// partSource is one Kafka partition as a one-partition stream.Source.
type partSource struct {
	w   *kafkaWorkers
	p   int
	dir string
}

func (s partSource) Partitions() int     { return 1 }
func (s partSource) EndOffset(int) int64 { return s.w.log.EndOffset(s.p) }
func (s partSource) Open(_ int, from int64) (stream.Reader, error) {
	if from == 0 {
		// No checkpoint: begin where the partition begins now (records
		// before it were deleted by retention), as a new consumer does.
		from = kafkaBus{l: s.w.log}.StartOffset(s.p)
	}
	r, err := s.w.log.NewReader(s.p, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Commit runs once the partition's checkpoint is durable on local disk:
// it copies the checkpoint to the shared bucket, and only then commits the
// offset to the consumer group (the group's offsets are for monitoring and
// never run ahead of a shared checkpoint; a new owner resumes from the
// checkpoint's own offset). A failure leaves the previous shared
// checkpoint, which is consistent too: its owner replays a little more.
func (s partSource) Commit(_ int, off int64) {
	a := s.w.a
	data, err := os.ReadFile(filepath.Join(s.dir, "checkpoint"))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = a.Offline.Bucket().Put(ctx, s.w.checkpointKey(s.p), bytes.NewReader(data), int64(len(data)))
		cancel()
	}
	if err != nil {
		a.Metrics.Checkpoints.WithLabelValues("upload_error").Inc()
		a.Logger.Error("copy a partition checkpoint to the shared bucket", "partition", s.p, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.w.log.CommitOffsets(ctx, map[int32]int64{int32(s.p): off}); err != nil {
		a.Logger.Warn("commit a partition offset to the group", "partition", s.p, "offset", off, "err", err)
	}
}

// teeState is a checkpointed Multi that also applies every record to
// states kept outside the checkpoint (process-wide tallies).
type teeState struct {
	stream.Multi
	tee []stream.State
}

func (t *teeState) Apply(r *event.Record) {
	t.Multi.Apply(r)
	for _, s := range t.tee {
		s.Apply(r)
	}
}
