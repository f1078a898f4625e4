// Package live holds the running configuration of `keyward serve` as an
// immutable snapshot — configuration, loaded secrets, providers with their
// key pools, resolved models — and swaps in a new one atomically on reload.
// A request takes the snapshot once when it starts and finishes on it, so
// in-flight requests and streams are never affected by a reload.
package live

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
)

// minKeyLen is the shortest accepted key: anything shorter is a mistake
// and could not be scrubbed from text reliably.
const minKeyLen = 8

// Target is one resolved model target.
type Target struct {
	Provider *provider.Provider
	Model    string
}

// Snapshot is one immutable generation of the running configuration.
type Snapshot struct {
	Config     config.Config
	Generation uint64
	Providers  map[string]*provider.Provider
	Models     map[string][]Target
	// ModelNames are the configured names in configuration order.
	ModelNames []string
	ClientKeys []secret.Secret
	// Pepper keys the hashes of virtual keys (zero when not configured).
	Pepper secret.Secret
	// AdminKeys are the admin API's credentials.
	AdminKeys []secret.Secret
	// Tokens mints and verifies browser tokens.
	Tokens *auth.Tokens
	// JWTSecrets are the HMAC secrets of auth.jwt issuers, by index (zero
	// for JWKS issuers).
	JWTSecrets []secret.Secret
	// Scrub replaces every piece of every secret value loaded (provider,
	// client and admin keys, the pepper, JWT secrets, the token signing
	// key), in any encoding it knows, wherever a response might carry one.
	Scrub *secret.Scrubber
	// secrets are the values Scrub and the log scrubber remove (public
	// verification keys are not among them).
	secrets []secret.Secret
	// Prices prices models (configured rows over the embedded table).
	Prices *budget.Prices
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// files are the file: secrets this snapshot read, with content hashes,
	// for change detection.
	files map[string][32]byte
}

// Build loads every secret a configuration references and assembles a
// snapshot. prev (may be nil) lends its keys' cooldown state to keys whose
// value did not change. Every missing secret is reported, by reference.
func Build(cfg config.Config, loader secret.Loader, transport http.RoundTripper, prev *Snapshot) (*Snapshot, error) {
	s := &Snapshot{Config: cfg, Providers: map[string]*provider.Provider{}, Models: map[string][]Target{}, files: map[string][32]byte{},
		Prices: budget.NewPrices(cfg.Pricing)}
	for _, tp := range cfg.TrustedProxies {
		if pf, err := config.ParsePrefix(tp); err == nil { // validated at load
			s.TrustedProxies = append(s.TrustedProxies, pf)
		}
	}
	var probs []config.Problem
	var all []secret.Secret
	// Hash exactly the bytes each file: secret was loaded from, so a file
	// that changes right after being read is seen as changed.
	read := loader.ReadFile
	if read == nil {
		read = readFileLimited
	}
	loader.ReadFile = func(path string) ([]byte, error) {
		b, err := read(path)
		if err == nil {
			s.files[path] = sha256.Sum256(b)
		} else {
			s.files[path] = [32]byte{}
		}
		return b, err
	}
	// load reads a reference; every value it returns is a secret to scrub
	// unless the caller marks it public.
	public := map[int]bool{}
	load := func(path string, ref secret.Ref) (secret.Secret, bool) {
		v, err := loader.Load(ref)
		if err != nil {
			probs = append(probs, config.Problem{Path: path, Msg: err.Error()})
			return secret.Secret{}, false
		}
		if v.Len() < minKeyLen {
			probs = append(probs, config.Problem{Path: path, Msg: fmt.Sprintf("%s: value is shorter than %d characters", ref, minKeyLen)})
			return secret.Secret{}, false
		}
		all = append(all, v)
		return v, true
	}
	for i, pc := range cfg.Providers {
		var keys []*provider.Key
		for j, kr := range pc.Keys {
			path := fmt.Sprintf("providers[%d].keys[%d]", i, j)
			ref, err := secret.ParseRef(kr.Ref)
			if err != nil {
				probs = append(probs, config.Problem{Path: path, Msg: err.Error()})
				continue
			}
			v, ok := load(path, ref)
			if !ok {
				continue
			}
			k := provider.NewKey(pc.Name+"/"+ref.String(), v, kr.Weight)
			if prev != nil {
				if pp, ok := prev.Providers[pc.Name]; ok {
					for _, old := range pp.Pool().Keys() {
						k.Adopt(old)
					}
				}
			}
			keys = append(keys, k)
		}
		p, err := provider.New(pc, keys, transport)
		if err != nil {
			probs = append(probs, config.Problem{Path: fmt.Sprintf("providers[%d]", i), Msg: err.Error()})
			continue
		}
		s.Providers[pc.Name] = p
	}
	for i, ref := range cfg.Clients.Keys {
		r, err := secret.ParseRef(string(ref))
		if err != nil {
			probs = append(probs, config.Problem{Path: fmt.Sprintf("clients.keys[%d]", i), Msg: err.Error()})
			continue
		}
		if v, ok := load(fmt.Sprintf("clients.keys[%d]", i), r); ok {
			s.ClientKeys = append(s.ClientKeys, v)
		}
	}
	loadRef := func(path string, ref config.Ref) (secret.Secret, bool) {
		r, err := secret.ParseRef(string(ref))
		if err != nil {
			probs = append(probs, config.Problem{Path: path, Msg: err.Error()})
			return secret.Secret{}, false
		}
		return load(path, r)
	}
	if cfg.Auth.Pepper != "" {
		s.Pepper, _ = loadRef("auth.pepper", cfg.Auth.Pepper)
	}
	for i, ref := range cfg.Auth.AdminKeys {
		if v, ok := loadRef(fmt.Sprintf("auth.admin_keys[%d]", i), ref); ok {
			s.AdminKeys = append(s.AdminKeys, v)
		}
	}
	s.JWTSecrets = make([]secret.Secret, len(cfg.Auth.JWT))
	for i, j := range cfg.Auth.JWT {
		if j.Secret != "" {
			s.JWTSecrets[i], _ = loadRef(fmt.Sprintf("auth.jwt[%d].secret", i), j.Secret)
		}
	}
	// The store's DSN and the Redis URL are loaded by cmd/keyward; here
	// only their passwords join the secrets scrubbed from answers and logs
	// (the rest, host and database names, is not secret).
	for _, c := range []struct {
		path string
		ref  config.Ref
	}{{"store.dsn", cfg.Store.DSN}, {"redis.url", cfg.Redis.URL}} {
		if c.ref == "" {
			continue
		}
		if v, ok := loadRef(c.path, c.ref); ok {
			public[len(all)-1] = true
			if pw := v.ConnPassword(); !pw.IsZero() {
				all = append(all, pw)
			}
		}
	}
	bt := cfg.Auth.BrowserTokens
	topts := auth.TokensOptions{MaxTTL: bt.MaxTTL, Issuers: map[string]auth.OfflineIssuer{}}
	if bt.SigningKey != "" {
		if v, ok := loadRef("auth.browser_tokens.signing_key", bt.SigningKey); ok {
			signer, err := v.Ed25519Signer()
			if err != nil {
				probs = append(probs, config.Problem{Path: "auth.browser_tokens.signing_key", Msg: fmt.Sprintf("%s: %v", bt.SigningKey, err)})
			}
			topts.Signer = signer
		}
	}
	for i, ref := range bt.VerificationKeys {
		path := fmt.Sprintf("auth.browser_tokens.verification_keys[%d]", i)
		if v, ok := loadRef(path, ref); ok {
			public[len(all)-1] = true
			pub, err := v.ParseEd25519Public()
			if err != nil {
				probs = append(probs, config.Problem{Path: path, Msg: fmt.Sprintf("%s: %v", ref, err)})
			}
			topts.Verification = append(topts.Verification, pub)
		}
	}
	for i, is := range bt.Issuers {
		path := fmt.Sprintf("auth.browser_tokens.issuers[%d].public_key", i)
		if v, ok := loadRef(path, is.PublicKey); ok {
			public[len(all)-1] = true
			pub, err := v.ParseEd25519Public()
			if err != nil {
				probs = append(probs, config.Problem{Path: path, Msg: fmt.Sprintf("%s: %v", is.PublicKey, err)})
			}
			plan := is.Plan
			if plan == "" {
				plan = cfg.Auth.DefaultPlan
			}
			topts.Issuers[is.Name] = auth.OfflineIssuer{Key: pub, Plan: plan}
		}
	}
	s.Tokens = auth.NewTokens(topts)
	for _, m := range cfg.Models {
		s.ModelNames = append(s.ModelNames, m.Name)
		for _, t := range m.Targets {
			if p, ok := s.Providers[t.Provider]; ok {
				s.Models[m.Name] = append(s.Models[m.Name], Target{Provider: p, Model: t.Model})
			}
		}
	}
	if len(probs) > 0 {
		return nil, &config.Error{Problems: probs}
	}
	for i, v := range all {
		if !public[i] {
			s.secrets = append(s.secrets, v)
		}
	}
	s.Scrub = secret.NewScrubber(s.secrets...)
	return s, nil
}

// readFileLimited reads a secret file, refusing one too large to be a key.
func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, secret.MaxFileBytes+1))
}

// Runtime owns the current snapshot and reloads it.
type Runtime struct {
	current   atomic.Pointer[Snapshot]
	mu        sync.Mutex // serializes reloads
	gen       uint64
	path      string
	loader    secret.Loader
	transport http.RoundTripper
	log       *slog.Logger
	scrubber  *redact.Scrubber
	needAuth  bool
	// parse reads the configuration file; tests may replace it.
	parse func(path string) (config.Config, error)
}

// Options configure a Runtime.
type Options struct {
	// ConfigPath is reread on every reload ("" keeps the first config).
	ConfigPath string
	Getenv     func(string) string
	// Transport reaches real providers (the mock brings its own).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Scrubber is the log scrubber whose exact values follow reloads.
	Scrubber *redact.Scrubber
	// RequireClientAuth refuses a configuration (first or reloaded) with
	// no client keys.
	RequireClientAuth bool
}

// New builds the first snapshot from cfg.
func New(cfg config.Config, o Options) (*Runtime, error) {
	g := &Runtime{
		path:      o.ConfigPath,
		loader:    secret.Loader{Getenv: o.Getenv},
		transport: o.Transport,
		log:       o.Logger,
		scrubber:  o.Scrubber,
		needAuth:  o.RequireClientAuth,
		parse:     config.LoadFile,
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if o.ConfigPath != "" {
		g.loader.BaseDir = filepath.Dir(o.ConfigPath)
	}
	s, err := g.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	g.install(s)
	return g, nil
}

func (g *Runtime) build(cfg config.Config, prev *Snapshot) (*Snapshot, error) {
	if g.needAuth && !HasClientAuth(cfg) {
		return nil, ErrNoAuth
	}
	return Build(cfg, g.loader, g.transport, prev)
}

// Current returns the snapshot requests should use now.
func (g *Runtime) Current() *Snapshot { return g.current.Load() }

func (g *Runtime) install(s *Snapshot) {
	g.gen++
	s.Generation = g.gen
	if g.scrubber != nil {
		g.scrubber.SetSecrets(s.secrets...)
	}
	g.current.Store(s)
}

// Reload rereads the configuration file and every secret; on any problem
// the current snapshot stays and the error says why.
func (g *Runtime) Reload(reason string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.Current()
	cfg := old.Config
	if g.path != "" {
		c, err := g.parse(g.path)
		if err != nil {
			g.log.Error("reload failed; keeping the running configuration", "reason", reason, "err", err)
			return err
		}
		cfg = c
	}
	s, err := g.build(cfg, old)
	if err != nil {
		g.log.Error("reload failed; keeping the running configuration", "reason", reason, "err", err)
		return err
	}
	if !s.Pepper.Equal(old.Pepper) {
		g.log.Warn("auth.pepper changed; virtual keys use the new one only after a restart")
	}
	if !reflect.DeepEqual(cfg.Auth.JWT, old.Config.Auth.JWT) {
		g.log.Warn("auth.jwt changed; JWT issuers take effect on restart")
	}
	if cfg.Listen != old.Config.Listen {
		g.log.Warn("listen address changed; it takes effect on restart", "running", old.Config.Listen, "configured", cfg.Listen)
	}
	g.install(s)
	g.log.Info("configuration reloaded", "reason", reason, "generation", s.Generation,
		"providers", len(s.Providers), "models", len(s.Models))
	return nil
}

// fileState digests the current content of every file: secret the
// running snapshot read, and reports whether any differs from what it loaded.
func (g *Runtime) fileState() (digest [32]byte, changed bool) {
	s := g.Current()
	read := g.loader.ReadFile
	if read == nil {
		read = readFileLimited
	}
	paths := make([]string, 0, len(s.files))
	for p := range s.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		var now [32]byte
		if b, err := read(p); err == nil {
			now = sha256.Sum256(b)
		}
		if now != s.files[p] {
			changed = true
		}
		h.Write([]byte(p))
		h.Write(now[:])
	}
	copy(digest[:], h.Sum(nil))
	return digest, changed
}

// WatchFiles polls file: secrets every interval until stop is closed and
// reloads when one changes (a rotated key, a re-mounted Kubernetes secret).
// A reload that failed is not retried until the files change again.
func (g *Runtime) WatchFiles(stop <-chan struct{}, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed [32]byte
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		digest, changed := g.fileState()
		if !changed || digest == failed {
			continue
		}
		if err := g.Reload("secret file changed"); err != nil {
			failed = digest
		}
	}
}

// IsLoopback reports whether a listen address binds only loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return config.IsLoopbackHost(host)
}

// ErrNoAuth is returned when no client authentication is configured.
var ErrNoAuth = errors.New("no client authentication configured (set clients.keys, or auth.pepper for virtual keys)")

// HasClientAuth reports whether a configuration authenticates callers at
// all: static client keys, or virtual keys (a pepper).
func HasClientAuth(cfg config.Config) bool {
	return len(cfg.Clients.Keys) > 0 || cfg.Auth.Pepper != "" || len(cfg.Auth.BrowserTokens.Issuers) > 0 || len(cfg.Auth.JWT) > 0
}
