// Package usage records what a request used — metadata only, written
// asynchronously in batches, pruned after the retention period — reports
// it, and estimates a request's tokens before it is sent (for token rate
// limits and spend reservations). What a provider's answer reports is read
// by its adapter (internal/provider).
package usage

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Sink is where records go: the store.
type Sink interface {
	AppendUsage(ctx context.Context, recs []store.UsageRecord) error
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	// QueueSize bounds the records waiting to be written.
	QueueSize int
	// BatchSize is the most records one write holds.
	BatchSize int
	// FlushInterval is the longest a record waits for a batch to fill.
	FlushInterval time.Duration
	// Retries is how many times a failed write is tried again (with
	// backoff) before its records are counted as dropped.
	Retries int
	Logger  *slog.Logger
	// OnDrop is called with the number of records dropped (for metrics).
	OnDrop func(n int)
}

// Writer writes usage records asynchronously in batches through a bounded
// queue, so the request path never waits for the database. A record that
// does not fit the queue, or whose write keeps failing, is dropped — never
// silently: drops are counted, reported to OnDrop and logged.
type Writer struct {
	sink Sink
	o    WriterOptions
	q    chan store.UsageRecord

	mu     sync.RWMutex // guards closed against Record
	closed bool
	done   chan struct{}

	written, dropped atomic.Int64
	lastDropLog      atomic.Int64 // unix nanos
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("usage: writer closed")

// NewWriter starts a writer.
func NewWriter(sink Sink, o WriterOptions) *Writer {
	if o.QueueSize < 1 {
		o.QueueSize = 10_000
	}
	if o.BatchSize < 1 {
		o.BatchSize = 500
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{sink: sink, o: o, q: make(chan store.UsageRecord, o.QueueSize), done: make(chan struct{})}
	go w.run()
	return w
}

// Record queues a record without blocking. It reports false when the
// record was dropped (the queue is full, or the writer is closed).
func (w *Writer) Record(r store.UsageRecord) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.drop(1, ErrClosed)
		return false
	}
	select {
	case w.q <- r:
		return true
	default:
		w.drop(1, errors.New("queue full"))
		return false
	}
}

// drop counts and reports lost records, logging at most once a second.
func (w *Writer) drop(n int, why error) {
	total := w.dropped.Add(int64(n))
	if w.o.OnDrop != nil {
		w.o.OnDrop(n)
	}
	now := time.Now().UnixNano()
	last := w.lastDropLog.Load()
	if now-last >= int64(time.Second) && w.lastDropLog.CompareAndSwap(last, now) {
		w.o.Logger.Error("usage records dropped", "dropped", n, "dropped_total", total, "reason", why.Error())
	}
}

// Len is the number of records waiting.
func (w *Writer) Len() int { return len(w.q) }

// Written and Dropped count records since the writer started.
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped counts records lost.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]store.UsageRecord, 0, w.o.BatchSize)
	timer := time.NewTimer(w.o.FlushInterval)
	defer timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			w.write(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case r, ok := <-w.q:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(w.o.FlushInterval)
			}
			batch = append(batch, r)
			if len(batch) >= w.o.BatchSize {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// write stores a batch, retrying with backoff; a batch that cannot be
// written is dropped and counted.
func (w *Writer) write(batch []store.UsageRecord) {
	backoff := 100 * time.Millisecond
	var err error
	for try := 0; try <= w.o.Retries; try++ {
		if try > 0 {
			time.Sleep(backoff)
			backoff *= 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = w.sink.AppendUsage(ctx, batch)
		cancel()
		if err == nil {
			w.written.Add(int64(len(batch)))
			return
		}
		w.o.Logger.Warn("writing usage records failed", "records", len(batch), "try", try+1, "err", err)
	}
	w.drop(len(batch), err)
}

// Close stops taking records and writes every queued one. It returns when
// all are written, or when ctx ends (the rest are then still being written
// in the background and counted if lost).
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pruner deletes old records.
type Pruner interface {
	PruneUsage(ctx context.Context, before time.Time) (int64, error)
}

// Prune deletes records older than retention now and then every interval,
// until ctx ends.
func Prune(ctx context.Context, p Pruner, retention, interval time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.PruneUsage(ctx, now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("pruning usage records failed", "err", err)
		case n > 0:
			log.Info("pruned usage records", "deleted", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
