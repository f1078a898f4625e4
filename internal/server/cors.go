package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/apierr"
)

// allowedRequestHeaders may be sent cross-origin (the OpenAI and Anthropic
// SDKs add their x-stainless-* headers in browsers too).
var allowedRequestHeaders = []string{"authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta",
	"anthropic-dangerous-direct-browser-access", "openai-beta", "x-request-id"}

func headerAllowed(h string) bool {
	h = strings.ToLower(strings.TrimSpace(h))
	return slices.Contains(allowedRequestHeaders, h) || strings.HasPrefix(h, "x-stainless-")
}

// withCORS answers preflights and adds CORS headers for allowed origins.
// A request from a browser origin that is not on cors.allowed_origins gets
// 403 origin_not_allowed; requests without an Origin (servers) pass.
func (s *server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		cfg := infoOf(r.Context()).snap.Config.CORS
		// The admin API is never open to browsers.
		allowed := slices.Contains(cfg.AllowedOrigins, origin) && !strings.HasPrefix(r.URL.Path, "/admin/")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !allowed {
			if len(cfg.AllowedOrigins) == 0 && !preflight {
				// No browser access configured: let the request through
				// without CORS headers (the browser will not expose the
				// answer) — browser tokens are refused on their own.
				next.ServeHTTP(w, r)
				return
			}
			msg := "This origin may not call the gateway; add it to cors.allowed_origins."
			if len(cfg.AllowedOrigins) == 0 {
				msg = "Browser access is off: cors.allowed_origins is empty. Add this page's origin (such as http://localhost:3000) to cors.allowed_origins."
			}
			fail(w, r, apierr.OriginNotAllowed, msg, "")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Request-Id, X-Ratelimit-Limit-Requests, X-Ratelimit-Remaining-Requests, X-Ratelimit-Reset-Requests")
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		method := r.Header.Get("Access-Control-Request-Method")
		if method != http.MethodPost && method != http.MethodGet {
			fail(w, r, apierr.MethodNotAllowed, "Only GET and POST may be used cross-origin.", method)
			return
		}
		var headers []string
		for _, line := range r.Header.Values("Access-Control-Request-Headers") {
			for _, name := range strings.Split(line, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				if !headerAllowed(name) {
					fail(w, r, apierr.Forbidden, "A requested header may not be sent cross-origin.", name)
					return
				}
				headers = append(headers, strings.ToLower(name))
			}
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if len(headers) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
		}
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(cfg.MaxAge.Seconds())))
		w.WriteHeader(http.StatusNoContent)
	})
}
