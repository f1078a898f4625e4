// Package metrics is keyward's Prometheus instrumentation. Label values
// come only from closed sets and configuration — routes, status codes,
// provider and configured model names, limit kinds — never from user ids,
// keys or anything a client sends, so a scrape cannot leak a credential
// and cardinality stays bounded.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds keyward's collectors on their own registry.
type Metrics struct {
	reg *prometheus.Registry

	requests         *prometheus.CounterVec
	upstreamLatency  *prometheus.HistogramVec
	addedLatency     *prometheus.HistogramVec
	tokens           *prometheus.CounterVec
	cost             *prometheus.CounterVec
	limitRejections  *prometheus.CounterVec
	budgetRejections *prometheus.CounterVec
	activeStreams    prometheus.Gauge
	inFlight         prometheus.Gauge
	usageDropped     prometheus.Counter
	limiterErrors    prometheus.Counter
	redisDown        prometheus.Gauge
	redisFallbacks   *prometheus.CounterVec
	storeStale       prometheus.Counter
	changeEvents     prometheus.Gauge
}

// New registers keyward's collectors, the Go runtime's and the process's.
// queueDepth reports the usage queue's length (nil: not reported).
func New(queueDepth func() int) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_requests_total", Help: "API requests by route, HTTP status, error code, provider and configured model.",
		}, []string{"route", "status", "code", "provider", "model"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_upstream_latency_seconds", Help: "Time from sending a request to the provider to its response headers.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 16, 32, 64, 128},
		}, []string{"provider", "route"}),
		addedLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_added_latency_seconds", Help: "Time keyward spent on a request before it left for the provider (authentication, checks, limits, budget).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_tokens_total", Help: "Tokens used, by provider, configured model and kind (input, cached_input, cache_write, output).",
		}, []string{"provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_cost_usd_total", Help: "Cost of the requests forwarded, in US dollars.",
		}, []string{"provider", "model"}),
		limitRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_limit_rejections_total", Help: "Requests refused by a rate or concurrency limit, by limit (rpm, rpd, tpm, concurrency, ip_rpm).",
		}, []string{"limit"}),
		budgetRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_budget_rejections_total", Help: "Requests refused by a spend cap, by scope (key, user, plan-user) and period (daily, monthly), or unpriced.",
		}, []string{"scope", "period"}),
		activeStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_active_streams", Help: "Streaming responses in progress.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_in_flight_requests", Help: "API requests in progress.",
		}),
		usageDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_usage_records_dropped_total", Help: "Usage records lost: the queue was full or the store kept failing.",
		}),
		limiterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_limiter_errors_total", Help: "Rate limiter or budget store failures (the request was refused).",
		}),
		redisDown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_redis_down", Help: "1 while the Redis replicas share is failing (limits follow redis.on_failure), else 0.",
		}),
		redisFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_redis_fallbacks_total", Help: "Limit decisions made without Redis while it failed, by kind (rates, concurrency, spend) and policy (fail_open: decided in this process; fail_closed: refused).",
		}, []string{"kind", "policy"}),
		storeStale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_store_stale_total", Help: "Keys, users and budgets used from the cache past their freshness because the store failed (store.grace_period).",
		}),
		changeEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_change_events_live", Help: "1 while this replica receives the store's change events (PostgreSQL LISTEN/NOTIFY), else 0.",
		}),
	}
	reg.MustRegister(m.storeStale, m.changeEvents, m.requests, m.upstreamLatency, m.addedLatency, m.tokens, m.cost, m.limitRejections,
		m.budgetRejections, m.activeStreams, m.inFlight, m.usageDropped, m.limiterErrors, m.redisDown, m.redisFallbacks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queueDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_usage_queue_depth", Help: "Usage records waiting to be written.",
		}, func() float64 { return float64(queueDepth()) }))
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request is what one finished API request reports.
type Request struct {
	Route, Code, Provider, Model string
	Status                       int
	// Upstream is the provider's time to response headers (0: not sent);
	// Added is keyward's time before the request left.
	Upstream, Added time.Duration
}

// ObserveRequest counts a finished request.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(r.Route, strconv.Itoa(r.Status), r.Code, r.Provider, r.Model).Inc()
	if r.Upstream > 0 {
		m.upstreamLatency.WithLabelValues(r.Provider, r.Route).Observe(r.Upstream.Seconds())
	}
	if r.Added > 0 {
		m.addedLatency.WithLabelValues(r.Route).Observe(r.Added.Seconds())
	}
}

// ObserveUsage counts tokens and cost.
func (m *Metrics) ObserveUsage(provider, model string, input, cachedInput, cacheWrite, output, costMicros int64) {
	if m == nil {
		return
	}
	for _, k := range []struct {
		kind string
		n    int64
	}{{"input", input}, {"cached_input", cachedInput}, {"cache_write", cacheWrite}, {"output", output}} {
		if k.n > 0 {
			m.tokens.WithLabelValues(provider, model, k.kind).Add(float64(k.n))
		}
	}
	if costMicros > 0 {
		m.cost.WithLabelValues(provider, model).Add(float64(costMicros) / 1e6)
	}
}

// LimitRejected counts a request refused by a limit.
func (m *Metrics) LimitRejected(limit string) {
	if m != nil {
		m.limitRejections.WithLabelValues(limit).Inc()
	}
}

// BudgetRejected counts a request refused by a spend cap.
func (m *Metrics) BudgetRejected(scope, period string) {
	if m != nil {
		m.budgetRejections.WithLabelValues(scope, period).Inc()
	}
}

// StreamStarted and the returned func track an active stream.
func (m *Metrics) StreamStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.activeStreams.Inc()
	return m.activeStreams.Dec
}

// RequestStarted and the returned func track a request in flight.
func (m *Metrics) RequestStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.inFlight.Inc()
	return m.inFlight.Dec
}

// UsageDropped counts lost usage records.
func (m *Metrics) UsageDropped(n int) {
	if m != nil {
		m.usageDropped.Add(float64(n))
	}
}

// LimiterError counts a limiter or budget failure.
func (m *Metrics) LimiterError() {
	if m != nil {
		m.limiterErrors.Inc()
	}
}

// RedisDown notes that the shared Redis failed (true) or is back (false).
func (m *Metrics) RedisDown(down bool) {
	if m != nil {
		v := 0.0
		if down {
			v = 1
		}
		m.redisDown.Set(v)
	}
}

// StoreStale counts a record used from the cache because the store failed.
func (m *Metrics) StoreStale() {
	if m != nil {
		m.storeStale.Inc()
	}
}

// ChangeEvents records whether the store's change events flow.
func (m *Metrics) ChangeEvents(live bool) {
	if m != nil {
		v := 0.0
		if live {
			v = 1
		}
		m.changeEvents.Set(v)
	}
}

// RedisFallback counts a limit decision made without Redis.
func (m *Metrics) RedisFallback(kind, policy string) {
	if m != nil {
		m.redisFallbacks.WithLabelValues(kind, policy).Inc()
	}
}
