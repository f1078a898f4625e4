package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/admission"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/redisledger"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/failover"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/redislimit"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/postgres"
	"github.com/keyward/keyward/internal/store/sqlite"
)

// appStore is the store every command uses: the embedded SQLite file, or
// the PostgreSQL that replicas share.
type appStore interface {
	store.Store
	Close() error
}

// openStore opens the configured store, migrating it to this binary's
// schema. The PostgreSQL DSN is a reference, loaded here.
func openStore(ctx context.Context, cfg config.Config, cfgPath string, loader secret.Loader) (appStore, error) {
	if cfg.Store.Driver != config.StorePostgres {
		return sqlite.Open(ctx, cfg.StorePath(cfgPath))
	}
	dsn, err := loadRef(loader, "store.dsn", cfg.Store.DSN)
	if err != nil {
		return nil, err
	}
	conns := cfg.Store.MaxConns
	if conns == 0 {
		conns = 10
	}
	db, err := postgres.Open(ctx, connString(dsn), postgres.MaxConns(int32(conns)))
	if err != nil {
		return nil, err // postgres.Open never puts the password in its errors
	}
	return db, nil
}

// shared are where rate limits, concurrency slots and spend reservations
// live: Redis, shared by replicas, or this process's memory. Either way
// spend before a restart (or a Redis loss) is read back from the store's
// usage records.
type shared struct {
	Limiter ratelimit.Limiter
	Slots   ratelimit.Slots
	Ledger  budget.Ledger
	// Gate takes a request's limits and reservation in one Redis round
	// trip (nil: one after the other, in memory).
	Gate admission.Gate
	// down reports a Redis outage (nil without Redis).
	down  func() bool
	close func()
}

// degraded is /readyz's list of why this replica serves other than as
// configured: Redis failing (limits follow redis.on_failure), the store
// not answering.
func degraded(sh shared, db appStore) func(ctx context.Context) []string {
	return func(ctx context.Context) []string {
		var why []string
		if sh.down != nil && sh.down() {
			why = append(why, "redis unavailable: limits follow redis.on_failure")
		}
		if p, ok := db.(interface{ Ping(context.Context) error }); ok {
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			if p.Ping(ctx) != nil {
				why = append(why, "store unavailable")
			}
		}
		return why
	}
}

// openShared connects to redis.url when configured; without it everything
// is in memory, right for one replica only, and the log says so. With it,
// each kind follows redis.on_failure while Redis fails (internal/failover):
// the outage is logged once and counted, and Redis is tried again by itself.
func openShared(cfg config.Config, loader secret.Loader, log *slog.Logger, db store.Usage, m *metrics.Metrics) (shared, error) {
	spend := budget.StoreSpend{Usage: db}
	if cfg.Redis.URL == "" {
		log.Info("rate limits, concurrency and spend reservations are kept in memory: right for one replica; set redis.url to share them")
		return shared{Limiter: ratelimit.NewMemory(), Slots: ratelimit.NewMemorySlots(), Ledger: budget.NewMemoryLedger(spend), close: func() {}}, nil
	}
	url, err := loadRef(loader, "redis.url", cfg.Redis.URL)
	if err != nil {
		return shared{}, err
	}
	rdb, err := redislimit.NewClient(connString(url))
	if err != nil {
		return shared{}, fmt.Errorf("redis.url: %w", err)
	}
	redis.SetLogger(redisLogger{log})
	slots := redislimit.NewSlots(rdb, cfg.Redis.Prefix, cfg.Redis.LeaseTTL)
	pol := cfg.Redis.OnFailure
	br := &failover.Breaker{
		Down: func(err error) {
			m.RedisDown(true)
			log.Error("Redis is unavailable; until it is back, limits follow redis.on_failure", "err", err,
				"rates", pol.Rates, "concurrency", pol.Concurrency, "spend", pol.Spend)
		},
		Up: func() {
			m.RedisDown(false)
			log.Info("Redis is back; limits are shared again")
		},
		Fallback: func(kind string, p failover.Policy) { m.RedisFallback(kind, string(p)) },
	}
	log.Info("rate limits, concurrency leases and spend reservations are kept in Redis, shared by every replica",
		"prefix", cfg.Redis.Prefix, "lease_ttl", cfg.Redis.LeaseTTL.String(), "spend_lease_ttl", cfg.Redis.SpendLeaseTTL.String())
	lim := redislimit.NewLimiter(rdb, cfg.Redis.Prefix)
	ledger := redisledger.NewLedger(rdb, cfg.Redis.Prefix, spend, cfg.Redis.SpendLeaseTTL)
	sh := shared{
		Limiter: failover.Limiter{Shared: lim, Local: ratelimit.NewMemory(), Policy: failover.Policy(pol.Rates), Breaker: br},
		Slots:   failover.Slots{Shared: slots, Local: ratelimit.NewMemorySlots(), Policy: failover.Policy(pol.Concurrency), Breaker: br},
		Ledger:  failover.Ledger{Shared: ledger, Local: budget.NewMemoryLedger(spend), Policy: failover.Policy(pol.Spend), Breaker: br},
		down:    br.IsDown,
		close: func() {
			_ = slots.Close()
			_ = rdb.Close()
		},
	}
	var lastFallbackLog atomic.Int64
	sh.Gate = &admission.Joint{Client: rdb, Limiter: lim, Slots: slots, Ledger: ledger,
		Fallback: admission.Sequential{Limiter: sh.Limiter, Slots: sh.Slots, Ledger: sh.Ledger}, Down: br.IsDown,
		OnFallback: func(err error) { // at most once a minute
			if now, last := time.Now().UnixNano(), lastFallbackLog.Load(); now-last > int64(time.Minute) && lastFallbackLog.CompareAndSwap(last, now) {
				log.Warn("admitting requests one Redis call at a time: the one-round-trip admission failed", "err", err)
			}
		}}
	return sh, nil
}

// connString is the one place a connection string (store.dsn, redis.url)
// leaves its secret type: handed to the database driver, never printed.
func connString(s secret.Secret) string { return s.Reveal() }

// loadRef loads one secret reference of the configuration.
func loadRef(loader secret.Loader, path string, r config.Ref) (secret.Secret, error) {
	ref, err := secret.ParseRef(string(r))
	if err != nil {
		return secret.Secret{}, fmt.Errorf("%s: %w", path, err)
	}
	v, err := loader.Load(ref)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// redisLogger sends go-redis's own messages (a failed dial, say) to the
// redacting log instead of stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn("redis: " + fmt.Sprintf(format, v...))
}

// storeCmd is `keyward store migrate`: brings the configured store to this
// binary's schema (serve does it at start too; replicas migrate once, under
// a lock).
func storeCmd(e env) *cobra.Command {
	var cfgFlag string
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manage keyward's store (SQLite or PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	cmd.PersistentFlags().StringVarP(&cfgFlag, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	cmd.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to this version of keyward",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := configPath(cfgFlag, e.getenv)
			cfg, err := config.LoadFile(path)
			if err != nil {
				return usageError{err}
			}
			db, err := openStore(c.Context(), cfg, path, secret.Loader{Getenv: e.getenv, BaseDir: filepath.Dir(path)})
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer db.Close()
			fmt.Fprintf(e.stdout, "store (%s): migrated to this version's schema\n", cfg.Store.Driver)
			return nil
		},
	})
	return cmd
}

// changeHandler applies the store's change events to this replica: what
// changed is dropped from the caches (all of a kind when the id is empty:
// the table was truncated; keys and users are nil without a pepper), and
// an announced configuration change reloads the configuration — off the
// listener, at most once a second however many are announced. The
// reloader ends with ctx.
func changeHandler(ctx context.Context, gw *live.Runtime, keys *auth.Keys, users *auth.Users, budgets *budget.Table, log *slog.Logger) func(store.Change) {
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
			}
			log.Info("reloading the configuration: another process asked every replica to")
			_ = gw.Reload("change event")
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return func(c store.Change) {
		switch c.Kind {
		case store.ChangeKey:
			switch {
			case keys == nil:
			case c.ID == "":
				keys.ForgetAll()
			default:
				keys.Forget(c.ID)
			}
		case store.ChangeUser:
			switch {
			case users == nil:
			case c.ID == "":
				users.ForgetAll()
			default:
				users.Forget(c.ID)
			}
		case store.ChangeBudget:
			budgets.Forget()
		case store.ChangeConfig:
			select {
			case reload <- struct{}{}:
			default: // one is pending already
			}
		case store.ChangeAll:
			if keys != nil {
				keys.ExpireAll()
			}
			if users != nil {
				users.ExpireAll()
			}
			budgets.Expire()
		}
	}
}

// liveReporter records whether change events flow: the caches keep
// records longer while they do, and the log says when they start and stop
// (once per change, with the reason, not per reconnection attempt).
func liveReporter(fresh *store.Freshness, m *metrics.Metrics, log *slog.Logger) func(bool, error) {
	var was, ever, told bool
	return func(on bool, why error) {
		fresh.SetLive(on)
		m.ChangeEvents(on)
		switch {
		case on && !was && !ever:
			log.Info("listening for the store's change events: revocations, users and budgets apply at once on every replica")
		case on && !was:
			log.Info("the store's change events flow again; cached keys, users and budgets are read again")
		case !on && (was || !told) && why != nil:
			log.Warn("the store's change events stopped or cannot start; until they flow, changes made elsewhere apply within a second and nothing is served from the cache while the store fails",
				"err", why)
			told = true
		}
		if on {
			told = false
		}
		was, ever = on, ever || on
	}
}
