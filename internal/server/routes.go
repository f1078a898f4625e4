package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/admin"

	"github.com/keyward/keyward/internal/provider"
)

// addRoutes is every route and its middleware chain, in one place.
//
//	request id → access log → recover → CORS → mux → method → auth → handler
//
// Every model route is the same chain of stages, each built by the package
// that owns it, handing one call value on (stages.go):
func addRoutes(mux *http.ServeMux, d Deps) {
	api := func(route provider.Route) http.Handler {
		return allow(http.MethodPost,
			d.authenticate( // auth: who is calling (key, JWT, browser token) and the plan it grants
				d.begin(route,
					d.authorize( // policy: route allowed, body parsed within the plan's caps, model resolved
						d.price( // budget: the spend caps that apply and the worst case against them
							d.admit( // admission: rates, concurrency and the spend reservation, all or none (settled on the way out)
								d.meter( // usage: price and record what was used
									d.forward))))))) // proxy: the provider, with fallback and streaming
	}
	mux.Handle("/v1/chat/completions", api(provider.Chat))
	mux.Handle("/v1/responses", api(provider.Responses))
	mux.Handle("/v1/embeddings", api(provider.Embeddings))
	mux.Handle("/v1/messages", api(provider.Messages))
	mux.Handle("/v1/messages/count_tokens", api(provider.CountTokens))
	mux.Handle("/v1/models", allow(http.MethodGet, d.authenticate(d.models())))
	mux.Handle("/v1/tokens", allow(http.MethodPost, d.authenticate(d.mintToken())))
	mux.Handle("/v1/decisions", allow(http.MethodPost, d.authenticate(d.decide())))
	ad := admin.Deps{Live: d.Live, Keys: d.Keys, Audit: d.Audit, Users: d.UserStore,
		Failures: d.Failures, Logger: d.Logger, ClientIP: clientIP, Usage: d.UsageStore, Budgets: d.BudgetStore}
	mux.Handle("/admin/api/", admin.New(ad))
	mux.Handle("/metrics", allow(http.MethodGet, d.metrics(ad)))
	mux.Handle("/healthz", allow(http.MethodGet, healthz()))
	mux.Handle("/readyz", allow(http.MethodGet, d.readyz()))
	mux.Handle("/", notFound())
}
