package auth

import (
	"net/http"
	"strings"
)

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
	// KindAssertedUser is an end user named by an app server's key (scope
	// users:assert) on one request.
	KindAssertedUser Kind = "asserted_user"
)

// Scopes a virtual key may hold besides model: and route: narrowing.
const (
	// ScopeMint lets a key mint browser tokens (POST /v1/tokens).
	ScopeMint = "tokens:mint"
	// ScopeAssertUsers lets a key name the end user of a request
	// (UserHeader); that user's plan, limits, caps and usage apply, within
	// the key's.
	ScopeAssertUsers = "users:assert"
)

// UserHeader names the end user of a request sent with a users:assert key.
const UserHeader = "X-Keyward-User"

// ValidUserID reports whether s may name an end user: 1 to 128 of
// letters, digits and . _ @ : + | = - starting with a letter or digit
// (emails, Clerk and Auth.js ids, Auth0's "provider|id" subjects). A "/"
// is refused: it separates a tenant's namespace.
func ValidUserID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && strings.IndexByte("._@:+|=-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

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
