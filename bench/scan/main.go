// Command scanbench generates a JavaScript/TypeScript corpus with planted
// fake keys and scores scanners' reports against it (see run.sh).
//
//	go run ./bench/scan gen -out DIR -mib 256 -truth truth.json
//	go run ./bench/scan score -truth truth.json -corpus DIR -keyward k.json -gitleaks g.json \
//	    -keyward-time k.time -gitleaks-time g.time
//
// Every key is built here from a fixed seed with the provider's shape; none
// is, or was, a live credential.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scanbench gen|score [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "score":
		err = score(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scanbench:", err)
		os.Exit(1)
	}
}

// Planted is one key in the corpus.
type Planted struct {
	Path string `json:"path"` // relative to the corpus
	Line int    `json:"line"`
	Kind string `json:"kind"`
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	hexd   = "0123456789abcdef"
	b64u   = alnum + "-_"
)

type corpusGen struct {
	r *rand.Rand
}

func (g *corpusGen) s(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func base62Encode(v uint64, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b)
}

// keys returns a fake key of each kind, shaped as the provider issues them.
func (g *corpusGen) key(kind string) string {
	switch kind {
	case "openai":
		return "sk-proj-" + g.s(b64u, 74) + "T3BlbkFJ" + g.s(b64u, 74)
	case "anthropic":
		return "sk-ant-api03-" + g.s(b64u, 93) + "AA"
	case "groq":
		return "gsk_" + g.s(alnum, 52)
	case "huggingface":
		return "hf_" + g.s(alnum, 34)
	case "gemini":
		return "AIza" + g.s(b64u, 35)
	case "stripe":
		return "sk_live_" + g.s(alnum, 99)
	case "github":
		body := g.s(base62, 30)
		return "ghp_" + body + base62Encode(uint64(crc32.ChecksumIEEE([]byte(body))), 6)
	case "openrouter":
		return "sk-or-v1-" + g.s(hexd, 64)
	case "xai":
		return "xai-" + g.s(alnum, 80)
	case "slack":
		return "xoxb-" + g.s("0123456789", 12) + "-" + g.s("0123456789", 13) + "-" + g.s(alnum, 24)
	case "aws":
		return "AKIA" + g.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	case "generic":
		return g.s(alnum, 40)
	}
	panic(kind)
}

var kinds = []string{"openai", "anthropic", "groq", "huggingface", "gemini", "stripe", "github", "openrouter", "xai", "slack", "aws", "generic"}

// plant returns a line of code holding a key of kind, in the syntax of ext.
func (g *corpusGen) plant(kind, ext string) string {
	k := g.key(kind)
	env := strings.ToUpper(kind) + "_API_KEY"
	switch {
	case kind == "generic":
		return fmt.Sprintf(`const serviceSecret = "%s";`, k)
	case ext == ".env":
		return env + "=" + k
	case ext == ".json":
		return fmt.Sprintf(`  "%s": "%s",`, strings.ToLower(env), k)
	case g.r.IntN(2) == 0:
		return fmt.Sprintf(`const client = createClient({ apiKey: "%s", baseURL: u });`, k)
	}
	return fmt.Sprintf(`headers:{Authorization:"Bearer %s"},`, k)
}

// decoy returns a line that looks like a key to a careless scanner and is
// not one: placeholders, env references, integrity hashes, UUIDs, git SHAs.
func (g *corpusGen) decoy() string {
	switch g.r.IntN(7) {
	case 0:
		return `const apiKey = "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; // your-api-key`
	case 1:
		return `apiKey: process.env.OPENAI_API_KEY,`
	case 2:
		return `"integrity": "sha512-` + g.s(alnum+"+/", 86) + `==",`
	case 3:
		return fmt.Sprintf(`const sessionToken = "%s-%s-%s-%s-%s";`, g.s(hexd, 8), g.s(hexd, 4), g.s(hexd, 4), g.s(hexd, 4), g.s(hexd, 12))
	case 4:
		return `const commit = "` + g.s(hexd, 40) + `";`
	case 5:
		return `OPENAI_API_KEY=<your key here>`
	}
	return `token: "${TOKEN}",`
}

// contextKinds are keys with no prefix of their own, found by the provider
// named around them: Azure OpenAI's 32-hex keys with the endpoint on the
// line above, ElevenLabs' older 32-hex keys, Hugging Face organization
// tokens. They are planted by a second generator, so the rest of the corpus
// is the same with or without them.
var contextKinds = []string{"azure-openai-legacy", "elevenlabs-legacy", "huggingface-org"}

// plantContext returns the lines that plant a key of a context kind, in the
// syntax of ext, and which of them holds the key.
func (g *corpusGen) plantContext(kind, ext string) (lines []string, keyLine int) {
	switch kind {
	case "azure-openai-legacy":
		host := "https://" + g.s("abcdefghijklmnopqrstuvwxyz", 8) + ".openai.azure.com/"
		k := g.s(hexd, 32)
		switch ext {
		case ".env":
			return []string{"AZURE_OPENAI_ENDPOINT=" + host, "OPENAI_API_VERSION=2024-10-21", "OPENAI_API_KEY=" + k}, 2
		case ".json":
			return []string{`  "azure_openai_endpoint": "` + host + `",`, `  "openai_api_key": "` + k + `",`}, 1
		}
		return []string{"const openai = new OpenAI({", `  apiKey: "` + k + `",`, `  baseURL: "` + host + `openai/deployments/chat",`, "});"}, 1
	case "elevenlabs-legacy":
		k := g.s(hexd, 32)
		switch ext {
		case ".env":
			return []string{"XI_API_KEY=" + k}, 0
		case ".json":
			return []string{`  "elevenlabs_api_key": "` + k + `",`}, 0
		}
		return []string{`const elevenlabs = new ElevenLabsClient({ apiKey: "` + k + `" });`}, 0
	case "huggingface-org":
		k := "api_org_" + g.s(alnum[:52], 34)
		switch ext {
		case ".env":
			return []string{"HUGGINGFACEHUB_API_TOKEN=" + k}, 0
		case ".json":
			return []string{`  "hf_token": "` + k + `",`}, 0
		}
		return []string{`login(token="` + k + `")`}, 0
	}
	panic(kind)
}

// hexDecoy returns a line holding a bare 32-hex value that is not a key:
// an ETag, a digest, a checksum.
func (g *corpusGen) hexDecoy() string {
	switch g.r.IntN(3) {
	case 0:
		return `const etag = "` + g.s(hexd, 32) + `";`
	case 1:
		return `  "md5": "` + g.s(hexd, 32) + `",`
	}
	return `checksum:"` + g.s(hexd, 32) + `",`
}

// filler returns about n bytes of minified-looking JavaScript, dense in the
// words secret scanners key on ("key", "token", "secret", "password"),
// as React and Next.js bundles are.
func (g *corpusGen) filler(n int, lineLen int) string {
	w := func(k int) string { return g.s(alnum[26:52], 1) + g.s(alnum, k-1) }
	parts := []func() string{
		func() string {
			return fmt.Sprintf(`function %s(e){var t=e.%s,n=e.key;return(0,r.jsx)("div",{className:"%s",children:t},n)}`, w(2), w(5), w(8))
		},
		func() string {
			return fmt.Sprintf(`let %s=(0,o.useState)(null),[%s,%s]=%s;if(!%s)throw Error("missing token");`, w(1), w(1), w(2), w(3), w(1))
		},
		func() string {
			return fmt.Sprintf(`fetch("/api/%s",{headers:{Authorization:"Bearer "+e.token}}).then(e=>e.json())`, w(6))
		},
		func() string {
			return fmt.Sprintf(`const c={apiKey:process.env.NEXT_PUBLIC_%s_KEY,secret:void 0};`, strings.ToUpper(w(5)))
		},
		func() string { return fmt.Sprintf(`"%s":"sha256-%s",`, w(10), g.s(alnum, 43)) },
		func() string {
			return fmt.Sprintf(`e.exports={id:"%s",chunks:[%d,%d],name:"%s"};`, w(20), g.r.IntN(9999), g.r.IntN(9999), w(7))
		},
		func() string {
			return fmt.Sprintf(`password:{type:"string",minLength:%d},passwordConfirm:t.password,tokenType:"Bearer",keyPrefix:"%s"`, g.r.IntN(20), w(4))
		},
		func() string {
			return fmt.Sprintf(`for(let i=0;i<%s.length;i++)%s[i]=%s.charCodeAt(i)^%d;`, w(1), w(1), w(1), g.r.IntN(255))
		},
	}
	var b strings.Builder
	col := 0
	for b.Len() < n {
		p := parts[g.r.IntN(len(parts))]()
		b.WriteString(p)
		col += len(p)
		if lineLen > 0 && col >= lineLen {
			b.WriteByte('\n')
			col = 0
		}
	}
	return b.String()
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "corpus", "directory to write")
	mib := fs.Int("mib", 256, "corpus size in MiB")
	truthPath := fs.String("truth", "truth.json", "where to write the planted keys")
	seed := fs.Uint64("seed", 1, "random seed")
	withContext := fs.Bool("context-kinds", true, "also plant keys found by their context (Azure OpenAI and ElevenLabs 32-hex keys, Hugging Face api_org_ tokens) and bare 32-hex decoys; false writes the corpus of the figures measured before they were added")
	fs.Parse(args)

	g := &corpusGen{r: rand.New(rand.NewPCG(*seed, 42))}
	g2 := &corpusGen{r: rand.New(rand.NewPCG(*seed, 43))}
	var truth []Planted
	total := 0
	file := 0
	for total < *mib<<20 {
		file++
		// A mix of what a Next.js repository holds: big minified bundles
		// (long lines), TypeScript sources, JSON and .env files.
		var rel, ext string
		var size, lineLen int
		switch f := file % 10; {
		case f < 3:
			rel, ext, size, lineLen = fmt.Sprintf(".next/static/chunks/%04d-%s.js", file, g.s(hexd, 16)), ".js", 2<<20+g.r.IntN(1<<20), 32<<10
		case f < 8:
			rel, ext, size, lineLen = fmt.Sprintf("src/feature%d/module%04d.ts", file%17, file), ".ts", 64<<10+g.r.IntN(192<<10), 120
		case f < 9:
			rel, ext, size, lineLen = fmt.Sprintf("config/settings%04d.json", file), ".json", 32<<10, 100
		default:
			rel, ext, size, lineLen = fmt.Sprintf("env/%04d.env", file), ".env", 4<<10, 60
		}
		var b strings.Builder
		line := 1
		for b.Len() < size {
			chunk := g.filler(min(size-b.Len(), 200<<10), lineLen)
			b.WriteString(chunk)
			line += strings.Count(chunk, "\n")
			b.WriteByte('\n')
			line++
			// One planted key and one decoy per piece, each on its own line.
			kind := kinds[g.r.IntN(len(kinds))]
			b.WriteString(g.plant(kind, ext) + "\n")
			truth = append(truth, Planted{Path: rel, Line: line, Kind: kind})
			line++
			b.WriteString(g.decoy() + "\n")
			line++
			if *withContext && g2.r.IntN(2) == 0 {
				kind := contextKinds[g2.r.IntN(len(contextKinds))]
				lines, at := g2.plantContext(kind, ext)
				for i, l := range lines {
					b.WriteString(l + "\n")
					if i == at {
						truth = append(truth, Planted{Path: rel, Line: line, Kind: kind})
					}
					line++
				}
				b.WriteString(g2.hexDecoy() + "\n")
				line++
			}
		}
		p := filepath.Join(*out, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
		total += b.Len()
	}
	j, err := json.MarshalIndent(truth, "", " ")
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d files, %.1f MiB, %d planted keys\n", file, float64(total)/(1<<20), len(truth))
	return os.WriteFile(*truthPath, j, 0o644)
}

// loc is a reported finding's file and line.
type loc struct {
	path string
	line int
}

func score(args []string) error {
	fs := flag.NewFlagSet("score", flag.ExitOnError)
	truthPath := fs.String("truth", "truth.json", "planted keys")
	corpus := fs.String("corpus", "corpus", "the corpus directory (to make paths relative)")
	kw := fs.String("keyward", "", "keyward JSON report")
	gl := fs.String("gitleaks", "", "gitleaks JSON report")
	kwTime := fs.String("keyward-time", "", "keyward's /usr/bin/time -v output")
	glTime := fs.String("gitleaks-time", "", "gitleaks' /usr/bin/time -v output")
	fs.Parse(args)

	var truth []Planted
	b, err := os.ReadFile(*truthPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		return err
	}
	planted := map[loc]string{}
	for _, t := range truth {
		planted[loc{t.Path, t.Line}] = t.Kind
	}
	size, err := dirSize(*corpus)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(*corpus)
	rel := func(p string) string {
		for _, root := range []string{abs, *corpus} {
			if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
				return filepath.ToSlash(r)
			}
		}
		return filepath.ToSlash(p)
	}

	var kwLocs, glLocs []loc
	if *kw != "" {
		var rep struct {
			Findings []struct {
				Path string `json:"path"`
				Line int    `json:"line"`
			} `json:"findings"`
		}
		if err := readJSON(*kw, &rep); err != nil {
			return err
		}
		for _, f := range rep.Findings {
			kwLocs = append(kwLocs, loc{rel(f.Path), f.Line})
		}
	}
	if *gl != "" {
		var rep []struct {
			File      string
			StartLine int
		}
		if err := readJSON(*gl, &rep); err != nil {
			return err
		}
		for _, f := range rep {
			glLocs = append(glLocs, loc{rel(f.File), f.StartLine})
		}
	}
	fmt.Printf("corpus: %.1f MiB, %d planted keys\n\n", float64(size)/(1<<20), len(truth))
	fmt.Printf("| tool | wall s | MiB/s | CPU s | MiB per CPU s | peak RSS MiB | findings | on planted lines | elsewhere | recall | precision |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range []struct {
		name, time string
		locs       []loc
	}{{"keyward", *kwTime, kwLocs}, {"gitleaks v8.28.0", *glTime, glLocs}} {
		if t.time == "" {
			continue
		}
		wall, cpu, rss, err := parseTime(t.time)
		if err != nil {
			return err
		}
		found := map[loc]bool{}
		tp, fp := 0, 0
		for _, l := range t.locs {
			if _, ok := planted[l]; ok {
				tp++
				found[l] = true
			} else {
				fp++
			}
		}
		recall := float64(len(found)) / float64(len(truth))
		precision := 1.0
		if len(t.locs) > 0 {
			precision = float64(tp) / float64(len(t.locs))
		}
		mib := float64(size) / (1 << 20)
		fmt.Printf("| %s | %.2f | %.1f | %.2f | %.1f | %.0f | %d | %d | %d | %.3f | %.3f |\n", t.name, wall, mib/wall, cpu, mib/cpu,
			float64(rss)/1024, len(t.locs), tp, fp, recall, precision)
		missed := map[string]int{}
		for l, kind := range planted {
			if !found[l] {
				missed[kind]++
			}
		}
		if len(missed) > 0 {
			fmt.Fprintf(os.Stderr, "%s missed: %v\n", t.name, missed)
		}
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func dirSize(root string) (int64, error) {
	var n int64
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

var (
	wallRE = regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)`)
	rssRE  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	cpuRE  = regexp.MustCompile(`(?:User|System) time \(seconds\): ([\d.]+)`)
)

// parseTime reads the wall time and CPU time (user + system, seconds) and
// the peak RSS (KiB) from GNU time -v output.
func parseTime(path string) (wall, cpu float64, rssKiB int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := wallRE.FindStringSubmatch(sc.Text()); m != nil {
			h, _ := strconv.Atoi(m[1])
			mm, _ := strconv.Atoi(m[2])
			s, _ := strconv.ParseFloat(m[3], 64)
			wall = float64(h*3600+mm*60) + s
		}
		if m := rssRE.FindStringSubmatch(sc.Text()); m != nil {
			rssKiB, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m := cpuRE.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			cpu += v
		}
	}
	if wall == 0 || cpu == 0 {
		return 0, 0, 0, fmt.Errorf("%s: no wall or CPU time", path)
	}
	return wall, cpu, rssKiB, sc.Err()
}
