package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// gatedSink passes batches to the real store once open is closed, and
// records the batch sizes.
type gatedSink struct {
	db    *sqlite.DB
	open  chan struct{}
	fails atomic.Int64 // writes to fail before succeeding
	mu    sync.Mutex
	sizes []int
}

func (g *gatedSink) AppendUsage(ctx context.Context, recs []store.UsageRecord) error {
	<-g.open
	if g.fails.Add(-1) >= 0 {
		return errors.New("database is locked")
	}
	g.mu.Lock()
	g.sizes = append(g.sizes, len(recs))
	g.mu.Unlock()
	return g.db.AppendUsage(ctx, recs)
}

func record(i int) store.UsageRecord {
	return store.UsageRecord{At: t0.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("req_%d", i), Key: "key:a", Model: "fast", Input: 1, CostMicros: 10}
}

func count(t *testing.T, db *sqlite.DB) int64 {
	t.Helper()
	g, err := db.SummarizeUsage(context.Background(), store.UsageFilter{}, store.ByKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) == 0 {
		return 0
	}
	return g[0].Requests
}

// TestWriterBatchesAndFlushesOnClose: records are written in batches of
// at most BatchSize, and Close writes everything still queued.
func TestWriterBatchesAndFlushesOnClose(t *testing.T) {
	db := openStore(t)
	sink := &gatedSink{db: db, open: make(chan struct{})}
	w := NewWriter(sink, WriterOptions{QueueSize: 100, BatchSize: 4, FlushInterval: time.Hour})
	for i := 0; i < 10; i++ {
		if !w.Record(record(i)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	close(sink.open)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 10 {
		t.Fatalf("%d records written, want 10", n)
	}
	for _, s := range sink.sizes {
		if s > 4 {
			t.Errorf("batch of %d > BatchSize", s)
		}
	}
	if w.Written() != 10 || w.Dropped() != 0 {
		t.Errorf("written %d dropped %d", w.Written(), w.Dropped())
	}
	if w.Record(record(11)) || w.Dropped() != 1 {
		t.Error("a record after Close must be refused and counted")
	}
}

// TestWriterFlushesByInterval: a lone record does not wait for a batch.
func TestWriterFlushesByInterval(t *testing.T) {
	db := openStore(t)
	w := NewWriter(db, WriterOptions{BatchSize: 500, FlushInterval: 5 * time.Millisecond})
	defer w.Close(context.Background())
	w.Record(record(1))
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone record was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWriterDropsCounted: a full queue drops records without blocking the
// caller, and every drop is counted.
func TestWriterDropsCounted(t *testing.T) {
	db := openStore(t)
	sink := &gatedSink{db: db, open: make(chan struct{})}
	var onDrop atomic.Int64
	w := NewWriter(sink, WriterOptions{QueueSize: 5, BatchSize: 1, FlushInterval: time.Hour, OnDrop: func(n int) { onDrop.Add(int64(n)) }})
	accepted := 0
	for i := 0; i < 50; i++ {
		if w.Record(record(i)) {
			accepted++
		}
	}
	// The writer holds one record in its batch, five wait in the queue.
	if accepted > 6 || accepted < 5 {
		t.Fatalf("accepted %d records with a queue of 5", accepted)
	}
	if got := w.Dropped(); got != int64(50-accepted) || onDrop.Load() != got {
		t.Fatalf("dropped %d (OnDrop %d), want %d", got, onDrop.Load(), 50-accepted)
	}
	close(sink.open)
	w.Close(context.Background())
	if n := count(t, db); n != int64(accepted) {
		t.Fatalf("%d written, want every accepted record (%d)", n, accepted)
	}
}

// badSink refuses, as a store does for what a record holds, every batch
// holding a record whose RequestID is bad, and fails the first fails
// writes as an unavailable store does.
type badSink struct {
	db    *sqlite.DB
	bad   string
	fails atomic.Int64
}

func (b *badSink) AppendUsage(ctx context.Context, recs []store.UsageRecord) error {
	if b.fails.Add(-1) >= 0 {
		return fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	for _, r := range recs {
		if r.RequestID == b.bad {
			return fmt.Errorf("%w: value out of range", store.ErrBadRecord)
		}
	}
	return b.db.AppendUsage(ctx, recs)
}

// TestWriterRetries: a failed write is tried again until it is written; a
// batch refused for one record's content loses that record only.
func TestWriterRetries(t *testing.T) {
	db := openStore(t)
	sink := &badSink{db: db, bad: "req_12"}
	sink.fails.Store(3)
	w := NewWriter(sink, WriterOptions{BatchSize: 5, FlushInterval: time.Hour, MaxBackoff: time.Millisecond})
	for i := 10; i < 15; i++ {
		w.Record(record(i))
	}
	w.Close(context.Background())
	if n := count(t, db); n != 4 || w.Dropped() != 1 || w.Written() != 4 {
		t.Fatalf("written %d (Written %d), dropped %d; want 4 written and the bad record dropped", n, w.Written(), w.Dropped())
	}
}

// downSink is a store that can be taken down: while down, writes and
// pings fail as a lost connection would.
type downSink struct {
	db     *sqlite.DB
	down   atomic.Bool
	writes atomic.Int64
}

var errDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

func (d *downSink) AppendUsage(ctx context.Context, recs []store.UsageRecord) error {
	d.writes.Add(1)
	if d.down.Load() {
		return errDown
	}
	return d.db.AppendUsage(ctx, recs)
}

// TestWriterHoldsRecordsWhileTheStoreIsDown: while the store does not
// answer, records wait (the batch being tried and the queue) however many
// times the write fails, and are all written when it is back; what does
// not fit the queue is dropped and counted; Close during an outage gives
// up when its context ends and counts what it could not write.
func TestWriterHoldsRecordsWhileTheStoreIsDown(t *testing.T) {
	tests := []struct {
		name             string
		queue, batch, n  int
		wantWritten      int64
		closeWhileDown   bool
		wantDroppedAfter int64
	}{
		{name: "within the bound", queue: 100, batch: 10, n: 60, wantWritten: 60},
		{name: "beyond the bound", queue: 20, batch: 5, n: 60, wantWritten: 21}, // the batch being tried (record 0) and the queue
		{name: "closed while down", queue: 100, batch: 10, n: 30, closeWhileDown: true, wantDroppedAfter: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			sink := &downSink{db: db}
			sink.down.Store(true)
			w := NewWriter(sink, WriterOptions{QueueSize: tt.queue, BatchSize: tt.batch, FlushInterval: time.Millisecond,
				MaxBackoff: 5 * time.Millisecond})
			// The first batch is taken and fails; the rest queue behind it.
			w.Record(record(0))
			deadline := time.Now().Add(10 * time.Second)
			for sink.writes.Load() < 3 {
				if time.Now().After(deadline) {
					t.Fatal("the writer did not try the store")
				}
				time.Sleep(time.Millisecond)
			}
			for i := 1; i < tt.n; i++ {
				w.Record(record(i))
			}
			if tt.closeWhileDown {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				if err := w.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Close = %v", err)
				}
				for w.Dropped() < tt.wantDroppedAfter {
					if time.Now().After(deadline) {
						t.Fatalf("dropped %d after Close gave up, want %d", w.Dropped(), tt.wantDroppedAfter)
					}
					time.Sleep(time.Millisecond)
				}
				if n := count(t, db); n != 0 || w.Dropped() != tt.wantDroppedAfter {
					t.Fatalf("written %d, dropped %d", n, w.Dropped())
				}
				return
			}
			if w.Len() == 0 {
				t.Fatal("Len reports nothing waiting during the outage")
			}
			for sink.writes.Load() < 20 { // many failed tries, nothing given up
				time.Sleep(time.Millisecond)
			}
			sink.down.Store(false)
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := count(t, db); n != tt.wantWritten || w.Written() != tt.wantWritten {
				t.Fatalf("written %d (Written %d), want %d", n, w.Written(), tt.wantWritten)
			}
			if got := w.Dropped(); got != int64(tt.n)-tt.wantWritten {
				t.Fatalf("dropped %d, want %d", got, int64(tt.n)-tt.wantWritten)
			}
		})
	}
}

// TestWriterCloseDeadline: Close gives up waiting when its context ends.
func TestWriterCloseDeadline(t *testing.T) {
	db := openStore(t)
	sink := &gatedSink{db: db, open: make(chan struct{})}
	w := NewWriter(sink, WriterOptions{BatchSize: 1, FlushInterval: time.Hour})
	w.Record(record(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v", err)
	}
	close(sink.open)
}

func TestWriterConcurrent(t *testing.T) {
	db := openStore(t)
	w := NewWriter(db, WriterOptions{QueueSize: 10_000, BatchSize: 100, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				w.Record(record(i))
			}
		}()
	}
	wg.Wait()
	w.Close(context.Background())
	if got := count(t, db) + w.Dropped(); got != 2000 {
		t.Fatalf("written + dropped = %d, want 2000", got)
	}
}

func TestPrune(t *testing.T) {
	db := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	recs := []store.UsageRecord{record(0), record(1)}
	recs[0].At = t0.Add(-100 * 24 * time.Hour)
	if err := db.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		Prune(ctx, db, 90*24*time.Hour, time.Hour, func() time.Time { return t0 }, slogDiscard())
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("old record not pruned")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
