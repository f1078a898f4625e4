package nextaudit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prepareFixture copies a fixture app and adds what must not live in the
// repository: env files holding fake keys, a simulated build output and a
// git history.
func prepareFixture(t *testing.T, name string) string {
	t.Helper()
	dir := copyDir(t, filepath.Join("testdata", "nextjs", name))
	switch name {
	case "vulnerable":
		needGit(t)
		key := fakeOpenAIKey(1)
		writeTree(t, dir, map[string]string{
			".env.local":      "NEXT_PUBLIC_OPENAI_API_KEY=" + key + "\n",
			".env":            "OPENAI_API_KEY=" + fakeOpenAIKey(2) + "\n",
			".env.production": "GROQ_API_KEY=" + fakeGroqKey(3) + "\n",
			// What next build makes of app/components/chat.jsx with the
			// key above in .env.local.
			".next/static/chunks/app/page-3f2a1b.js": `(self.webpackChunk=self.webpackChunk||[]).push([[974],{1:(e,t,n)=>{let a=new n.OpenAI({apiKey:"` + key + `",dangerouslyAllowBrowser:!0})}}]);`,
		})
		git(t, dir, "init", "-q")
		git(t, dir, "add", "package.json", ".env", ".env.production")
		git(t, dir, "commit", "-q", "-m", "init")
		git(t, dir, "rm", "-q", "--cached", ".env.production")
		git(t, dir, "commit", "-q", "-m", "stop tracking .env.production")
	case "secure":
		needGit(t)
		writeTree(t, dir, map[string]string{
			".env.local":                      "KEYWARD_URL=http://127.0.0.1:8080\nKEYWARD_CLIENT_KEY=" + fakeChars(4, alnum, 40) + "\n",
			".next/static/chunks/app/page.js": `(()=>{console.log("no secrets here")})();`,
		})
		git(t, dir, "init", "-q")
		git(t, dir, "add", ".")
		git(t, dir, "commit", "-q", "-m", "init")
	case "keyward-sdk":
		needGit(t)
		writeTree(t, dir, map[string]string{
			".env.local": "KEYWARD_URL=http://127.0.0.1:8787\nKEYWARD_SERVER_KEY=" + fakeChars(5, alnum, 40) + "\nKEYWARD_MINT_KEY=" + fakeChars(6, alnum, 40) + "\n",
		})
		git(t, dir, "init", "-q")
		git(t, dir, "add", ".")
		git(t, dir, "commit", "-q", "-m", "init")
	case "monorepo":
		needGit(t)
		writeTree(t, dir, map[string]string{".gitignore": "node_modules/\n.next/\n.env*\n"})
		git(t, dir, "init", "-q")
		git(t, dir, "add", ".")
		git(t, dir, "commit", "-q", "-m", "init")
	}
	return dir
}

// TestFixtures audits the fixture apps and compares the reports with the
// golden files (go test -run TestFixtures -update rewrites them).
func TestFixtures(t *testing.T) {
	for _, tt := range []struct {
		name string
		// checks every check the fixture must trigger; none for the
		// secure apps.
		checks []string
	}{
		{name: "vulnerable", checks: []string{CheckPublicEnvSecret, CheckNextConfigEnv, CheckEnvFileInGit, CheckClientProviderAccess,
			CheckDangerouslyAllow, CheckMissingServerOnly, CheckSecretToClient, CheckUnprotectedRoute, CheckEnvFileInDeployment,
			CheckVulnerableNext, CheckBuildOutputSecret}},
		{name: "secure"},
		// keyward's browser pattern (SDK clients in client components
		// pointed at keyward with a browser token) and a Server Action
		// calling keyward with the server key.
		{name: "keyward-sdk"},
		{name: "pages-router", checks: []string{CheckClientProviderAccess, CheckPublicEnvSecret, CheckUnprotectedRoute, CheckVulnerableNext}},
		{name: "monorepo", checks: []string{CheckClientProviderAccess, CheckMissingServerOnly}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := prepareFixture(t, tt.name)
			res := auditDir(t, dir, Options{})
			var got []string
			for _, f := range res.Findings {
				if !slices.Contains(got, f.CheckID) {
					got = append(got, f.CheckID)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.checks)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("checks triggered (-want +got):\n%s", diff)
			}
			for _, f := range res.Findings {
				for _, k := range []string{fakeOpenAIKey(1), fakeOpenAIKey(2), fakeGroqKey(3)} {
					if strings.Contains(f.Message, k) {
						t.Errorf("%s: message shows a key unredacted", f.CheckID)
					}
				}
			}
			for _, format := range Formats {
				var b bytes.Buffer
				if err := Write(&b, format, res, "test"); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "golden", tt.name+"."+format), b.Bytes())
			}
		})
	}
}

// golden compares got with a golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}
