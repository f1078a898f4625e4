package rules

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// privateKeyRules returns the PEM private key rule.
func privateKeyRules() []*Rule {
	var rs []*Rule
	// Any PEM private key block, to its END line or, cut short, to the end
	// of the text.
	anyPrivateKey := &Shape{
		Keywords: []string{"private key"},
		Regex:    regexp.MustCompile(`-----BEGIN[A-Z ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY[A-Z ]*-----|$)`),
	}
	rsa := samplePEM("RSA PRIVATE KEY", append([]byte{0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00}, fakeBytes("pem-rsa", 1184)...), "\n")
	ec := samplePEM("EC PRIVATE KEY", append([]byte{0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20}, fakeBytes("pem-ec", 114)...), "\n")
	pkcs8 := samplePEM("PRIVATE KEY", append([]byte{0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00}, fakeBytes("pem-pkcs8", 1211)...), "\n")
	pkcs8JSON := samplePEM("PRIVATE KEY", append([]byte{0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00}, fakeBytes("pem-json", 1211)...), `\n`)
	openssh := samplePEM("OPENSSH PRIVATE KEY", opensshDER("pem-openssh"), "\n")
	encrypted := strings.Replace(
		samplePEM("RSA PRIVATE KEY", fakeBytes("pem-enc", 1192), "\n"),
		"-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"+strings.ToUpper(fake("pem-iv", hexLower, 32))+"\n\n", 1)
	public := samplePEM("PUBLIC KEY", fakeBytes("pem-pub", 294), "\n")
	cert := samplePEM("CERTIFICATE", fakeBytes("pem-cert", 900), "\n")

	// PEM-armoured private keys (RFC 7468): PKCS#1 "RSA PRIVATE KEY", SEC 1
	// "EC PRIVATE KEY", "DSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" and
	// "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", and PGP "PRIVATE KEY
	// BLOCK". The secret is the whole block. The body is matched lazily up
	// to the first END line, and may carry RFC 1421 headers (Proc-Type,
	// DEK-Info) and JSON-escaped line breaks, as in a GCP service-account
	// file's "private_key". Validate requires the body to decode as base64
	// to at least 48 bytes (the smallest real key, Ed25519 PKCS#8), so
	// "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----" in docs
	// is not reported.
	// Verified: https://www.rfc-editor.org/rfc/rfc7468,
	// https://www.rfc-editor.org/rfc/rfc4880#section-6.2 (PGP armor),
	// gitleaks/gitleaks cmd/generate/config/rules/privatekey.go,
	// google/osv-scalibr veles/secrets/privatekey/detector.go.
	rs = append(rs, &Rule{
		ID:          "private-key",
		Provider:    "PEM",
		Description: "Private key (PEM block)",
		Keywords:    []string{"private key"},
		Regex: regexp.MustCompile(`(?P<secret>-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----` +
			`(?:[A-Za-z0-9+/=:,.\- \t\r\n]|\\[rn])+?` +
			`-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)`),
		Redact:   anyPrivateKey,
		Validate: pemBodyOK,
		Severity: High,
		TruePositives: []string{
			rsa,
			"# deploy key\n" + ec + "\n",
			pkcs8,
			`{"type": "service_account", "private_key": "` + pkcs8JSON + `\n", "client_email": "ci@demo.iam.gserviceaccount.com"}`,
			openssh,
			encrypted,
			`PRIVATE_KEY="` + strings.ReplaceAll(ec, "\n", `\n`) + `"`,
		},
		FalsePositives: []string{
			"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
			"-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----",
			"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----",
			`const header = "-----BEGIN PRIVATE KEY-----";`,
			strings.Split(rsa, "-----END")[0], // truncated: no END line
			public,
			cert,
		},
	})
	return rs
}

// pemBodyOK reports whether a PEM block's body, without its BEGIN/END lines,
// RFC 1421 headers and PGP armor checksum, is base64 of at least 48 bytes.
func pemBodyOK(block string) bool {
	block = strings.NewReplacer(`\r`, "\n", `\n`, "\n", "\r", "\n").Replace(block)
	var body strings.Builder
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "-----"), strings.Contains(line, ":"):
		case len(line) == 5 && line[0] == '=': // PGP armor CRC-24
		default:
			body.WriteString(line)
		}
	}
	der, err := base64.StdEncoding.DecodeString(body.String())
	return err == nil && len(der) >= 48
}
