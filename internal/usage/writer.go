// Package usage records what a request used — metadata only, written
// asynchronously in batches, pruned after the retention period — reports
// it, and estimates a request's tokens before it is sent (for token rate
// limits and spend reservations). What a provider's answer reports is read
// by its adapter (internal/provider).
package usage

import (
	"context"
	"errors"
	"fmt"
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
	// MaxBackoff bounds the wait between tries of a batch the store did
	// not take (default 5s). A batch is tried until it is written or the
	// writer is closed: the queue fills meanwhile, and only what does not
	// fit it is dropped. A batch refused for what a record holds
	// (store.ErrBadRecord) is written one record at a time instead, and
	// only the records refused are dropped.
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// OnDrop is called with the number of records dropped (for metrics).
	OnDrop func(n int)
}

// Writer writes usage records asynchronously in batches through a bounded
// queue, so the request path never waits for the database. While the store
// fails the records wait — at most QueueSize in the queue and one batch
// being tried again — and are written when it is back. A record that does
// not fit, that the store refuses for what it holds, or that is still
// unwritten when Close gives up, is dropped — never silently: drops are
// counted, reported to OnDrop and logged.
//
// A batch whose commit succeeded but whose answer was lost (the
// connection died in between) is written again: at least once.
type Writer struct {
	sink Sink
	o    WriterOptions
	q    chan store.UsageRecord

	mu        sync.RWMutex // guards closed against Record
	closed    bool
	done      chan struct{}
	abandon   chan struct{} // closed when Close stops waiting
	abandoned sync.Once

	written, dropped atomic.Int64
	writing          atomic.Int64 // records in the batch being written
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
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{sink: sink, o: o, q: make(chan store.UsageRecord, o.QueueSize), done: make(chan struct{}), abandon: make(chan struct{})}
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

// Len is the number of records waiting: queued, or in a batch being
// written.
func (w *Writer) Len() int { return len(w.q) + int(w.writing.Load()) }

// Written and Dropped count records since the writer started.
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped counts records lost.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

func (w *Writer) isAbandoned() bool {
	select {
	case <-w.abandon:
		return true
	default:
		return false
	}
}

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
			if w.isAbandoned() {
				w.drop(1, ErrClosed)
				continue
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

// write stores a batch. A batch the store refuses for what a record holds
// (store.ErrBadRecord) is written one record at a time, dropping only the
// records refused; any other failure — the store down, read-only, full,
// timing out — holds the batch and tries it again with backoff until it
// is written or the writer is abandoned.
func (w *Writer) write(batch []store.UsageRecord) {
	w.writing.Store(int64(len(batch)))
	defer w.writing.Store(0)
	backoff := 100 * time.Millisecond
	logged := time.Time{}
	for fails := 0; len(batch) > 0; fails++ {
		err := w.append(batch)
		if errors.Is(err, store.ErrBadRecord) {
			if batch, err = w.writeEach(batch); len(batch) == 0 {
				return
			}
		}
		if err == nil {
			if fails > 0 {
				w.o.Logger.Info("usage records written after the store failed", "records", len(batch), "tries", fails+1)
			}
			return
		}
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			w.o.Logger.Warn("writing usage records failed; holding them and trying again", "records", len(batch), "queued", len(w.q), "err", err)
		}
		w.writing.Store(int64(len(batch)))
		select {
		case <-time.After(backoff):
		case <-w.abandon:
			w.drop(len(batch), fmt.Errorf("unwritten when the writer closed: %w", err))
			return
		}
		backoff = min(2*backoff, w.o.MaxBackoff)
	}
}

func (w *Writer) append(batch []store.UsageRecord) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.sink.AppendUsage(ctx, batch)
	if err == nil {
		w.written.Add(int64(len(batch)))
	}
	return err
}

// writeEach writes a batch the store refused one record at a time,
// dropping the records refused for what they hold. At the first other
// failure it stops and returns the records not yet written, and why.
func (w *Writer) writeEach(batch []store.UsageRecord) ([]store.UsageRecord, error) {
	for i := range batch {
		err := w.append(batch[i : i+1])
		switch {
		case errors.Is(err, store.ErrBadRecord):
			w.drop(1, fmt.Errorf("the store refused the record: %w", err))
		case err != nil:
			return batch[i:], err
		}
	}
	return nil, nil
}

// Close stops taking records and writes every queued one. It returns when
// all are written, or when ctx ends; the records still unwritten then are
// dropped and counted (a batch being written finishes its try).
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
		// Stop trying: what is still unwritten is dropped and counted.
		w.abandoned.Do(func() { close(w.abandon) })
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
