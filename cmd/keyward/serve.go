package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
)

// configPath picks the configuration file: the flag, $KEYWARD_CONFIG, or
// keyward.yaml in the working directory.
func configPath(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if p := getenv("KEYWARD_CONFIG"); p != "" {
		return p
	}
	return "keyward.yaml"
}

// newLogger builds the process logger: JSON or text on stderr, always
// through the redacting handler.
func newLogger(cfg config.Config, w io.Writer, scrub *redact.Scrubber) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.Log.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(redact.NewHandler(h, scrub))
}

// newTransport is the HTTP client side towards real providers.
func newTransport(t config.Timeouts) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   t.Connect,
		ResponseHeaderTimeout: t.ResponseHeader,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

type serveFlags struct {
	config         string
	listen         string
	insecureNoAuth bool
}

func serveCmd(e env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway: callers authenticate with a client key and send OpenAI- or
Anthropic-shaped requests; keyward forwards them with the provider key, which
never leaves the process. SIGHUP (or a changed file: secret) reloads the
configuration; SIGINT/SIGTERM drain in-flight requests and stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), e, f, nil)
		},
	}
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	cmd.Flags().StringVar(&f.listen, "listen", "", "listen address, overriding the configuration (host:port)")
	cmd.Flags().BoolVar(&f.insecureNoAuth, "insecure-no-auth", false, "serve without client keys when none are configured (loopback addresses only)")
	return cmd
}

// serve runs the gateway until ctx ends. ready, when not nil, receives the
// listening address (tests use it).
func serve(ctx context.Context, e env, f serveFlags, ready chan<- string) error {
	path := configPath(f.config, e.getenv)
	cfg, err := config.LoadFile(path)
	if err != nil {
		return usageError{err}
	}
	if f.listen != "" {
		cfg.Listen = f.listen
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
	}
	if !live.HasClientAuth(cfg) {
		if !f.insecureNoAuth {
			return usageError{errors.New("refusing to start: no client authentication is configured; add clients.keys (env:NAME or file:PATH) or auth.pepper for virtual keys, or pass --insecure-no-auth to serve on a loopback address without it")}
		}
		if !live.IsLoopback(cfg.Listen) {
			return usageError{fmt.Errorf("refusing to start: --insecure-no-auth is allowed only on a loopback address, not %s", cfg.Listen)}
		}
	}

	scrub := redact.NewScrubber()
	log := newLogger(cfg, e.stderr, scrub)
	gw, err := live.New(cfg, live.Options{
		ConfigPath:        path,
		Getenv:            e.getenv,
		Transport:         newTransport(cfg.Timeouts),
		Logger:            log,
		Scrubber:          scrub,
		RequireClientAuth: !f.insecureNoAuth,
	})
	if err != nil {
		return usageError{err}
	}
	// Virtual keys need the store; without a pepper it is not opened (and
	// no database file is created).
	// The store holds usage records and budgets always, and virtual keys,
	// users and the audit log when a pepper is configured.
	loader := secret.Loader{Getenv: e.getenv, BaseDir: filepath.Dir(path)}
	db, err := openStore(context.WithoutCancel(ctx), cfg, path, loader)
	if err != nil {
		if cfg.Store.Driver == config.StorePostgres {
			return fmt.Errorf("store: %w", err)
		}
		return fmt.Errorf("store: %w (usage records and budgets need a writable store.path)", err)
	}
	defer db.Close()
	var (
		m      *metrics.Metrics
		writer *usage.Writer
	)
	if !cfg.Metrics.Disabled {
		m = metrics.New(func() int { return writer.Len() })
	}
	// Keys, users and budgets are cached in each replica: fresh for a
	// second, or while the store's change events flow for longer (a
	// change drops them at once); while the store fails, what was read
	// keeps working for store.grace_period.
	fresh := &store.Freshness{TTL: time.Second, LiveTTL: 30 * time.Second, Grace: cfg.Store.GracePeriod,
		Timeout: 2 * time.Second, OnStale: m.StoreStale}
	var (
		keys      *auth.Keys
		audit     store.Audit
		users     *auth.Users
		userStore store.Users
	)
	if pepper := gw.Current().Pepper; !pepper.IsZero() {
		keys = auth.NewKeys(db, auth.KeysOptions{Pepper: pepper, Logger: log, Freshness: fresh})
		audit, userStore = db, db
		users = auth.NewUsers(db, fresh)
		fctx, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
		flushed := make(chan struct{})
		go func() { keys.RunFlusher(fctx, 10*time.Second); close(flushed) }()
		defer func() { cancelFlush(); <-flushed }()
	}
	budgets := budget.NewTable(db, fresh)
	if ch, ok := db.(store.Changes); ok {
		lctx, stopListen := context.WithCancel(context.WithoutCancel(ctx))
		listened := make(chan struct{})
		go func() {
			defer close(listened)
			_ = ch.Listen(lctx, changeHandler(lctx, gw, keys, users, budgets, log), liveReporter(fresh, m, log))
		}()
		defer func() { stopListen(); <-listened }()
	}
	lim, err := openShared(cfg, loader, log, db, m)
	if err != nil {
		return usageError{err}
	}
	defer lim.close()
	uc := cfg.Usage
	writer = usage.NewWriter(db, usage.WriterOptions{QueueSize: uc.QueueSize, BatchSize: uc.BatchSize, FlushInterval: uc.FlushInterval,
		Logger: log, OnDrop: m.UsageDropped})
	defer func() {
		// Every in-flight request has settled by now: write what is queued.
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := writer.Close(wctx); err != nil {
			log.Error("usage records still unwritten at exit", "queued", writer.Len(), "err", err)
		}
	}()
	pctx, stopPrune := context.WithCancel(context.WithoutCancel(ctx))
	pruned := make(chan struct{})
	go func() { usage.Prune(pctx, db, uc.Retention, uc.PruneInterval, time.Now, log); close(pruned) }()
	defer func() { stopPrune(); <-pruned }()
	var jwtv *auth.JWTVerifier
	if len(cfg.Auth.JWT) > 0 {
		client := &http.Client{Timeout: 10 * time.Second, Transport: newTransport(cfg.Timeouts)}
		jwtv, err = auth.NewJWTVerifier(ctx, cfg.Auth.JWT, gw.Current().JWTSecrets, client, nil, log)
		if err != nil {
			return usageError{fmt.Errorf("auth.jwt: %w", err)}
		}
		defer jwtv.Close()
	}
	draining := new(atomic.Bool)
	inFlight := new(sync.WaitGroup)
	handler := server.New(server.Deps{
		Live:           gw,
		Keys:           keys,
		JWT:            jwtv,
		Audit:          audit,
		Users:          users,
		UserStore:      userStore,
		Forwarder:      proxy.New(proxy.Options{Logger: log}),
		Logger:         log,
		InsecureNoAuth: f.insecureNoAuth,
		Draining:       draining,
		InFlight:       inFlight,
		// Limits and spend reservations are in Redis (redis.url) or this
		// process; spend before a restart is read back from the store's
		// usage records.
		Limiter:     lim.Limiter,
		Slots:       lim.Slots,
		Ledger:      lim.Ledger,
		Gate:        lim.Gate,
		Degraded:    degraded(lim, db),
		Failures:    auth.NewAuditedFailureLimiter(cfg.Auth.FailedPerMinute, log, audit),
		UsageStore:  db,
		BudgetStore: db,
		Budgets:     budgets,
		Usage:       writer,
		Metrics:     m,
	})
	if m != nil && cfg.Metrics.Listen != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: cfg.Timeouts.ReadHeader, IdleTimeout: cfg.Timeouts.Idle,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	t := cfg.Timeouts
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: t.ReadHeader,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	banner(e.stdout, gw.Current(), path, addr)
	log.Info("keyward listening", "addr", addr, "config", path, "version", versionString())
	for _, w := range browserWarnings(cfg) {
		log.Warn(w)
	}

	stop := make(chan struct{})
	defer close(stop)
	go gw.WatchFiles(stop, cfg.Reload.PollInterval)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = gw.Reload("SIGHUP")
			case <-stop:
				return
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	log.Info("shutting down; draining in-flight requests", "timeout", t.Shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = srv.Close()
		// Close does not wait for handlers: let the cut requests settle
		// and queue their usage before the usage writer is closed.
		done := make(chan struct{})
		go func() { inFlight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			log.Error("requests still running after shutdown; their usage may be lost")
		}
	}
	return nil
}

// banner tells a person how to call the gateway, without printing a key.
func banner(w io.Writer, s *live.Snapshot, cfgPath, addr string) {
	fmt.Fprintf(w, "keyward is listening on http://%s\n", addr)
	fmt.Fprintf(w, "models: %v\n", s.ModelNames)
	auth := ""
	if len(s.Config.Clients.Keys) > 0 {
		ref, err := secret.ParseRef(string(s.Config.Clients.Keys[0]))
		if err == nil && ref.IsFile() {
			auth = fmt.Sprintf(`-H "Authorization: Bearer $(cat %s)" `, ref.Path(filepath.Dir(cfgPath)))
		} else if err == nil {
			auth = fmt.Sprintf(`-H "Authorization: Bearer $%s" `, ref.String()[len("env:"):])
		}
	}
	virtual := auth == "" && !s.Pepper.IsZero()
	if virtual {
		auth = `-H "Authorization: Bearer $KEYWARD_KEY" `
	}
	route, body := "/v1/chat/completions", `{"model":"%s","messages":[{"role":"user","content":"Hello"}]}`
	if len(s.ModelNames) > 0 {
		supportsChat := false
		for _, t := range s.Models[s.ModelNames[0]] {
			supportsChat = supportsChat || t.Provider.Supports(provider.Chat)
		}
		if !supportsChat {
			route, body = "/v1/messages", `{"model":"%s","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}`
		}
		body = fmt.Sprintf(body, s.ModelNames[0])
	}
	fmt.Fprintf(w, "try:\n  curl http://%s%s %s-H \"Content-Type: application/json\" -d '%s'\n", addr, route, auth, body)
	if virtual {
		fmt.Fprintf(w, "  (KEYWARD_KEY is a virtual key: keyward keys create --config %s --name me)\n", cfgPath)
	}
}
