package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
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
	db, err := postgres.Open(ctx, dsn.Reveal(), postgres.MaxConns(int32(conns)))
	if err != nil {
		return nil, err // postgres.Open never puts the password in its errors
	}
	return db, nil
}

// limits are where rate limits and concurrency slots live: Redis, shared
// by replicas, or this process's memory.
type limits struct {
	Limiter ratelimit.Limiter
	Slots   ratelimit.Slots
	close   func()
}

// openLimits connects to redis.url when configured; without it the limits
// are in memory, right for one replica only, and the log says so.
func openLimits(cfg config.Config, loader secret.Loader, log *slog.Logger) (limits, error) {
	if cfg.Redis.URL == "" {
		log.Info("rate limits and concurrency are kept in memory: right for one replica; set redis.url to share them")
		return limits{Limiter: ratelimit.NewMemory(), Slots: ratelimit.NewMemorySlots(), close: func() {}}, nil
	}
	url, err := loadRef(loader, "redis.url", cfg.Redis.URL)
	if err != nil {
		return limits{}, err
	}
	rdb, err := redislimit.NewClient(url.Reveal())
	if err != nil {
		return limits{}, fmt.Errorf("redis.url: %w", err)
	}
	redis.SetLogger(redisLogger{log})
	slots := redislimit.NewSlots(rdb, cfg.Redis.Prefix, cfg.Redis.LeaseTTL)
	log.Info("rate limits and concurrency leases are kept in Redis, shared by every replica", "prefix", cfg.Redis.Prefix, "lease_ttl", cfg.Redis.LeaseTTL.String())
	return limits{Limiter: redislimit.NewLimiter(rdb, cfg.Redis.Prefix), Slots: slots, close: func() {
		_ = slots.Close()
		_ = rdb.Close()
	}}, nil
}

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
