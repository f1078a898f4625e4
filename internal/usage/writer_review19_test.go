package usage

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store/postgres"
)

// TestReview19ReadOnlyStoreHoldsRecords: a store that answers but refuses
// writes for now — read-only after a failover to a standby, or a cloud
// database put read-only when its disk fills — is an outage, not a
// reason to drop: the records are held (and counted as dropped only when
// Close gives up on them). Found by review: they were all dropped.
func TestReview19ReadOnlyStoreHoldsRecords(t *testing.T) {
	ctx := context.Background()
	_, dsn := pgtest.Schema(t)
	rw, err := postgres.Open(ctx, dsn) // migrate
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	ro, err := postgres.Open(ctx, pgtest.WithParam(dsn, "default_transaction_read_only", "on"), postgres.SkipMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	w := NewWriter(ro, WriterOptions{QueueSize: 1000, BatchSize: 50, FlushInterval: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	for i := range 50 {
		w.Record(record(i))
	}
	time.Sleep(time.Second) // many tries
	if w.Dropped() != 0 || w.Written() != 0 || w.Len() != 50 {
		t.Fatalf("with a read-only store: dropped %d, written %d, waiting %d; want all 50 waiting", w.Dropped(), w.Written(), w.Len())
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = w.Close(cctx)
	deadline := time.Now().Add(5 * time.Second)
	for w.Dropped() != 50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w.Dropped() != 50 {
		t.Fatalf("after Close gave up: dropped %d, want the 50 held counted", w.Dropped())
	}
}
