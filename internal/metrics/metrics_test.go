package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

func TestScrape(t *testing.T) {
	depth := 3
	m := New(func() int { return depth })
	m.ObserveRequest(Request{Route: "chat", Status: 200, Provider: "openai", Model: "fast", Upstream: 300 * time.Millisecond, Added: 400 * time.Microsecond})
	m.ObserveRequest(Request{Route: "chat", Status: 429, Code: "rate_limited_tokens"})
	m.ObserveUsage("openai", "fast", 100, 20, 0, 50, 1500)
	m.LimitRejected("tpm")
	m.BudgetRejected("user", "daily")
	done := m.StreamStarted()
	inflight := m.RequestStarted()
	m.UsageDropped(2)
	m.LimiterError()
	out := scrape(t, m)
	for _, want := range []string{
		`keyward_requests_total{code="",model="fast",provider="openai",route="chat",status="200"} 1`,
		`keyward_requests_total{code="rate_limited_tokens",model="",provider="",route="chat",status="429"} 1`,
		`keyward_upstream_latency_seconds_bucket{provider="openai",route="chat",le="0.5"} 1`,
		`keyward_added_latency_seconds_bucket{route="chat",le="0.0005"} 1`,
		`keyward_tokens_total{kind="cached_input",model="fast",provider="openai"} 20`,
		`keyward_cost_usd_total{model="fast",provider="openai"} 0.0015`,
		`keyward_limit_rejections_total{limit="tpm"} 1`,
		`keyward_budget_rejections_total{period="daily",scope="user"} 1`,
		`keyward_active_streams 1`,
		`keyward_in_flight_requests 1`,
		`keyward_usage_queue_depth 3`,
		`keyward_usage_records_dropped_total 2`,
		`keyward_limiter_errors_total 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `kind="cache_write"`) {
		t.Error("zero counts should not create series")
	}
	done()
	inflight()
	if out := scrape(t, m); !strings.Contains(out, "keyward_active_streams 0") || !strings.Contains(out, "keyward_in_flight_requests 0") {
		t.Error("gauges not released")
	}
}

// TestNilMetrics: a server without metrics calls the same methods.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(Request{})
	m.ObserveUsage("", "", 1, 1, 1, 1, 1)
	m.LimitRejected("rpm")
	m.BudgetRejected("key", "daily")
	m.StreamStarted()()
	m.RequestStarted()()
	m.UsageDropped(1)
	m.LimiterError()
}
