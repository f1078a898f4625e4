package auth

import "net/http"

// BearerToken returns the token of an "Authorization: Bearer …" header, or
// "" when there is none (another scheme, or nothing after it).
func BearerToken(r *http.Request) string {
	if v := r.Header.Get("Authorization"); len(v) > 7 && (v[:7] == "Bearer " || v[:7] == "bearer ") {
		return v[7:]
	}
	return ""
}

// Kind says how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindClientKey  Kind = "client_key"
	KindVirtualKey Kind = "virtual_key"
	KindAnonymous  Kind = "anonymous"
	// KindBrowserToken is a short-lived token held by a browser.
	KindBrowserToken Kind = "browser_token"
)

// Principal is who is calling, resolved to exactly one plan.
type Principal struct {
	Kind Kind
	// ID is loggable: "key:key_…", "client:env:NAME", "anonymous".
	ID     string
	User   string
	Plan   string
	Scopes []string
	// Origin binds a browser token to the page that may use it.
	Origin string
	// MaxOutputTokens narrows the plan's output cap (0: the plan's).
	MaxOutputTokens int
	// MintedBy is the principal ID ("key:key_…") of the virtual key that
	// minted a browser token: the token is valid only while that key is,
	// and only within its grant.
	MintedBy string
}
