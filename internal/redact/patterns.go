// Package redact removes secrets from text before it reaches a log line or
// an error message: keyward's configured secrets, whole or in pieces, raw or
// encoded, and
// anything shaped like a provider key, a bearer token or a credential in a
// URL query (the Gemini-style ?key= leak).
package redact

import (
	"regexp"
	"strings"
)

// Pattern is a credential shape keyward refuses to print.
type Pattern struct {
	ID       string
	Provider string
	// Keyword is a literal every match contains; it gates the regex so that
	// ordinary text costs a few substring checks.
	Keyword string
	re      *regexp.Regexp
	// keepGroup leaves submatches 1 and 2 in place (a URL's "?key=", a
	// header's "Bearer ", the "@" after URL userinfo) around the mask.
	keepGroup bool
}

// Patterns are the provider key shapes. The scanner's rules (keyward scan)
// are stricter and carry samples; these are deliberately broad because a
// false positive in a log line costs nothing.
var Patterns = []Pattern{
	p("anthropic", "Anthropic", "sk-ant-", `\bsk-ant-[a-z0-9]+-[A-Za-z0-9_\-]{20,}`),
	p("openrouter", "OpenRouter", "sk-or-", `\bsk-or-v1-[A-Za-z0-9]{20,}`),
	p("openai", "OpenAI", "sk-", `\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}`),
	p("gemini", "Google", "AIza", `\bAIza[0-9A-Za-z_\-]{30,}`),
	p("gemini-aq", "Google", "AQ.", `\bAQ\.[A-Za-z0-9_\-]{30,}`),
	p("groq", "Groq", "gsk_", `\bgsk_[A-Za-z0-9]{20,}`),
	p("xai", "xAI", "xai-", `\bxai-[A-Za-z0-9]{20,}`),
	p("huggingface", "Hugging Face", "hf_", `\bhf_[A-Za-z0-9]{20,}`),
	p("replicate", "Replicate", "r8_", `\br8_[A-Za-z0-9]{20,}`),
	p("perplexity", "Perplexity", "pplx-", `\bpplx-[A-Za-z0-9]{20,}`),
	p("keyward", "keyward", "kw_", `\bkw_(?:live|test|demo)_[A-Za-z0-9]{16,}`),
	p("github", "GitHub", "gh", `\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}`),
	p("aws", "AWS", "AKIA", `\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`),
	p("stripe", "Stripe", "_live_", `\b(?:sk|rk)_live_[A-Za-z0-9]{20,}`),
	p("jwt", "JWT", "eyJ", `\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`),
	p("private-key", "PEM", "PRIVATE KEY", `-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)`),
}

// contextual patterns keep their prefix (group 1) and redact the rest.
var contextual = []Pattern{
	pk("bearer", "Bearer", `(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*`),
	pk("url-credential", "=", `(?i)([?&;](?:key|api[-_]?key|access[-_]?token|token|secret|sig|signature|password|x-goog-api-key)=)[^&\s"'<>#]+`),
	pk("header-credential", ":", `(?i)((?:x-api-key|api-key|x-goog-api-key|authorization|proxy-authorization|cookie)"?\s*[:=]\s*"?(?:(?:bearer|basic)\s+)?)[^\s"',;}]{6,}`),
	pk("userinfo", "@", `(://[^/\s:@]*:)[^@\s/]+(@)`),
}

func p(id, provider, kw, expr string) Pattern {
	return Pattern{ID: id, Provider: provider, Keyword: kw, re: regexp.MustCompile(expr)}
}

func pk(id, kw, expr string) Pattern {
	return Pattern{ID: id, Keyword: kw, re: regexp.MustCompile(expr), keepGroup: true}
}

// Match returns the first provider pattern that matches s, if any.
func Match(s string) (Pattern, bool) {
	for _, pat := range Patterns {
		if strings.Contains(s, pat.Keyword) && pat.re.MatchString(s) {
			return pat, true
		}
	}
	return Pattern{}, false
}

// LooksLikeKey reports whether s contains a provider-key-shaped value.
func LooksLikeKey(s string) bool {
	_, ok := Match(s)
	return ok
}

// hasKeyword is the cheap gate before a pattern's regex runs. The
// contextual patterns are case-insensitive, so their gates are too.
func hasKeyword(s string, pat Pattern) bool {
	switch pat.ID {
	case "bearer":
		return strings.Contains(s, "earer") || strings.Contains(s, "EARER")
	case "header-credential":
		return strings.ContainsAny(s, ":=") && (containsFold(s, "key") || containsFold(s, "authorization") || containsFold(s, "cookie"))
	}
	return strings.Contains(s, pat.Keyword)
}

// containsFold reports whether s contains the lower-case ASCII word w in
// any letter case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
