package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store"
)

// R19-11: behind a transaction-pooling PgBouncer (a deployment Open's doc
// names), LISTEN lands on a server connection PgBouncer hands to others
// after the statement: notifications never reach the listener. Found by
// review: its idle pings succeeded, so it reported live(true) for ever
// and replicas kept records for LiveTTL (30 s). Now it reports live only
// once it heard a notification it sent itself.
//
// Needs a PgBouncer in transaction mode at KEYWARD_REVIEW19_PGBOUNCER whose
// database sets search_path to kw_r19pgb (see the review report).
func TestReview19PgBouncerListenerLiveButDeaf(t *testing.T) {
	pgb := os.Getenv("KEYWARD_REVIEW19_PGBOUNCER")
	if pgb == "" {
		t.Skip("KEYWARD_REVIEW19_PGBOUNCER not set")
	}
	old := listenIdle
	listenIdle = 200 * time.Millisecond
	t.Cleanup(func() { listenIdle = old })
	ctx := context.Background()
	admin := pgtest.AdminPool(t)
	const schema = "kw_r19pgb"
	if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE; CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	direct := openDSN(t, pgtest.WithParam(pgtest.DSN(), "search_path", schema))
	if err := direct.CreateKey(ctx, store.Key{ID: "key_1", Name: "k", Hash: []byte("h"), Prefix: "kw_live_abc", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	viaBouncer := openDSN(t, pgb, SkipMigrations())
	var cur string
	if err := viaBouncer.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil || cur != schema {
		t.Fatalf("through the bouncer current_schema() = %q, %v", cur, err)
	}
	l := listen(t, viaBouncer)
	// Live must mean heard: either the listener never says it is live
	// (it cannot hear itself), or a change reaches it.
	select {
	case on := <-l.live:
		if !on {
			return // said plainly: changes may be missed
		}
	case <-time.After(3 * time.Second):
		return
	}
	l.want(t, "after connecting", store.Change{Kind: store.ChangeAll})
	for range 5 { // some traffic through the bouncer, as a replica's pool makes
		if _, err := viaBouncer.KeyByID(ctx, "key_1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := direct.RevokeKey(ctx, "key_1", time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-l.changes:
		if c != (store.Change{Kind: store.ChangeKey, ID: "key_1"}) {
			t.Fatalf("told %+v", c)
		}
	case on := <-l.live:
		if on {
			t.Fatal("live(true) twice")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("behind PgBouncer the listener said it was live, and the revocation was never told")
	}
}
