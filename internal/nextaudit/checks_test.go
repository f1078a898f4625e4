package nextaudit

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hit is what the check tests compare: where, how bad, about what.
type hit struct {
	Path     string
	Line     int
	Severity Severity
	Subject  string
}

const nextPkg = `{"name":"app","dependencies":{"next":"16.4.6","react":"19.3.1"}}`

// checkCase is one tree and the findings one check must report on it.
type checkCase struct {
	name  string
	files map[string]string
	setup func(t *testing.T, dir string) // after the files are written
	want  []hit
}

func runCheckCases(t *testing.T, check string, cases []checkCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"package.json": nextPkg}
			for k, v := range tt.files {
				files[k] = v
			}
			writeTree(t, dir, files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			res := auditDir(t, dir, Options{})
			var got []hit
			for _, f := range res.Findings {
				if f.CheckID == check {
					got = append(got, hit{f.Path, f.Line, f.Severity, f.Subject})
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s findings (-want +got):\n%s", check, diff)
			}
		})
	}
}

func TestCheckPublicEnvSecret(t *testing.T) {
	runCheckCases(t, CheckPublicEnvSecret, []checkCase{
		{name: "value matches a scan rule", files: map[string]string{
			".env.local": "# keys\nNEXT_PUBLIC_AI=" + fakeOpenAIKey(10) + "\n",
		}, want: []hit{{".env.local", 2, Critical, "env:NEXT_PUBLIC_AI"}}},
		{name: "secret name with each public prefix", files: map[string]string{
			".env": "NEXT_PUBLIC_STRIPE_SECRET_KEY=abc\nVITE_API_TOKEN=abc\nREACT_APP_PASSWORD=x\nEXPO_PUBLIC_OPENAI_KEY=y\nPUBLIC_GROQ_APIKEY=z\n",
		}, want: []hit{
			{".env", 1, High, "env:NEXT_PUBLIC_STRIPE_SECRET_KEY"}, {".env", 2, High, "env:VITE_API_TOKEN"},
			{".env", 3, High, "env:REACT_APP_PASSWORD"}, {".env", 4, High, "env:EXPO_PUBLIC_OPENAI_KEY"},
			{".env", 5, High, "env:PUBLIC_GROQ_APIKEY"},
		}},
		{name: "read in code", files: map[string]string{
			"lib/ai.ts": "export const key: string = process.env.NEXT_PUBLIC_OPENAI_API_KEY!;\nexport const again = process.env.NEXT_PUBLIC_OPENAI_API_KEY;\n",
			"app/x.tsx": "const { NEXT_PUBLIC_GROQ_TOKEN } = process.env;\nexport const y = import.meta.env.VITE_SECRET;\n",
		}, want: []hit{
			{"app/x.tsx", 1, High, "env:NEXT_PUBLIC_GROQ_TOKEN"}, {"app/x.tsx", 2, High, "env:VITE_SECRET"},
			{"lib/ai.ts", 1, High, "env:NEXT_PUBLIC_OPENAI_API_KEY"},
		}},
		{name: "public by design, server-only secrets, plain settings", files: map[string]string{
			".env": "NEXT_PUBLIC_SUPABASE_ANON_KEY=eyJhbGciOi\nNEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_live_1\nNEXT_PUBLIC_APP_URL=https://x.dev\n" +
				"OPENAI_API_KEY=" + fakeOpenAIKey(11) + "\nNEXT_PUBLIC_RECAPTCHA_SITE_KEY=6Lc\n",
			"app/page.tsx": "export default function P() { return process.env.NEXT_PUBLIC_APP_URL + process.env.OPENAI_API_KEY }\n",
		}},
		// Firebase web API keys are public by design; the same AIza key
		// can call Gemini, so it is worth restricting, not rotating.
		{name: "Firebase web API key", files: map[string]string{
			".env.local": "NEXT_PUBLIC_FIREBASE_API_KEY=" + fakeGoogleKey(13) + "\nNEXT_PUBLIC_FIREBASE_PROJECT_ID=demo\n",
		}, want: []hit{{".env.local", 1, Low, "env:NEXT_PUBLIC_FIREBASE_API_KEY"}}},
		{name: "Google API key not named Firebase, Firebase name without a key", files: map[string]string{
			".env.local": "NEXT_PUBLIC_GEMINI_API_KEY=" + fakeGoogleKey(14) + "\nNEXT_PUBLIC_GOOGLE_KEY=" + fakeGoogleKey(15) + "\nNEXT_PUBLIC_FIREBASE_API_KEY=demo-key\n",
		}, want: []hit{{".env.local", 1, Critical, "env:NEXT_PUBLIC_GEMINI_API_KEY"}, {".env.local", 2, Critical, "env:NEXT_PUBLIC_GOOGLE_KEY"}}},
		{name: "inline ignore", files: map[string]string{
			".env":           "NEXT_PUBLIC_DEMO_TOKEN=demo # keyward:allow public demo token\n# keyward:allow public-env-secret\nNEXT_PUBLIC_X_KEY=1\nNEXT_PUBLIC_Y_KEY=2 # keyward:allow env-file-in-git\n",
			"lib/a.ts":       "// keyward:allow\nexport const k = process.env.NEXT_PUBLIC_Z_KEY;\n",
			"next.config.js": "module.exports = {};\n",
		}, want: []hit{{".env", 4, High, "env:NEXT_PUBLIC_Y_KEY"}}},
	})
}

func TestCheckNextConfigEnv(t *testing.T) {
	runCheckCases(t, CheckNextConfigEnv, []checkCase{
		{name: "server secret inlined", files: map[string]string{
			"next.config.js": "/** @type {import('next').NextConfig} */\nmodule.exports = {\n  env: {\n    APP: 'x',\n    OPENAI_API_KEY: process.env.OPENAI_API_KEY,\n  },\n};\n",
		}, want: []hit{{"next.config.js", 5, Critical, "env:OPENAI_API_KEY"}}},
		{name: "secret name and literal key in a TypeScript config", files: map[string]string{
			"next.config.ts": "import type { NextConfig } from 'next';\nconst config: NextConfig = {\n  env: { apiToken: 'abc', MODEL: '" + fakeGroqKey(12) + "' },\n};\nexport default config;\n",
		}, want: []hit{{"next.config.ts", 3, Critical, "env:apiToken"}, {"next.config.ts", 3, Critical, "env:MODEL"}}},
		{name: "publicRuntimeConfig", files: map[string]string{
			"next.config.js": "module.exports = {\n  serverRuntimeConfig: { key: process.env.OPENAI_API_KEY },\n  publicRuntimeConfig: { openai: process.env.OPENAI_API_KEY },\n};\n",
		}, want: []hit{{"next.config.js", 3, Critical, "publicRuntimeConfig:openai"}}},
		{name: "harmless entries", files: map[string]string{
			"next.config.mjs": "export default { env: { APP_NAME: 'x', NEXT_PUBLIC_URL: process.env.URL, BUILD: `${Date.now()}` } };\n",
		}},
		{name: "no env block", files: map[string]string{
			"next.config.mjs": "const OPENAI_API_KEY = process.env.OPENAI_API_KEY;\nexport default { output: 'export' };\n",
		}},
	})
}

func TestCheckEnvFileInGit(t *testing.T) {
	needGit(t)
	gitInit := func(t *testing.T, dir string) {
		git(t, dir, "init", "-q")
		git(t, dir, "add", "package.json")
		git(t, dir, "commit", "-q", "-m", "init")
	}
	runCheckCases(t, CheckEnvFileInGit, []checkCase{
		{name: "tracked", files: map[string]string{".env": "A=1\n", ".gitignore": ".env*.local\n"}, setup: func(t *testing.T, dir string) {
			gitInit(t, dir)
			git(t, dir, "add", ".env")
			git(t, dir, "commit", "-q", "-m", "env")
		}, want: []hit{{".env", 0, Critical, "tracked"}}},
		{name: "in history only", files: map[string]string{".env.development.local": "A=1\n", ".gitignore": ".env*.local\n"}, setup: func(t *testing.T, dir string) {
			gitInit(t, dir)
			git(t, dir, "add", "-f", ".env.development.local")
			git(t, dir, "commit", "-q", "-m", "oops")
			git(t, dir, "rm", "-q", ".env.development.local")
			git(t, dir, "commit", "-q", "-m", "remove")
		}, want: []hit{{".env.development.local", 0, High, "history"}}},
		{name: "not ignored", files: map[string]string{".env.local": "A=1\n", ".env.production": "B=2\n"}, setup: gitInit,
			want: []hit{{".env.local", 0, High, "not-ignored"}, {".env.production", 0, High, "not-ignored"}}},
		{name: "gitignore lacks .env.local", files: map[string]string{".gitignore": "node_modules/\n"}, setup: gitInit,
			want: []hit{{".gitignore", 0, Low, "gitignore-missing-env-local"}}},
		{name: "ignored and untracked", files: map[string]string{".env.local": "A=1\n", ".env": "B=1\n", ".env.example": "A=\n", ".gitignore": ".env\n.env*.local\n"},
			setup: gitInit},
		{name: "not a git repository", files: map[string]string{".env.local": "A=1\n"}},
	})
}

func TestCheckClientProviderAccess(t *testing.T) {
	runCheckCases(t, CheckClientProviderAccess, []checkCase{
		{name: "SDK in a client module", files: map[string]string{
			"app/chat.tsx": "'use client';\nimport OpenAI from 'openai';\nexport const ai = () => new OpenAI();\n",
		}, want: []hit{{"app/chat.tsx", 2, High, "import:openai"}}},
		{name: "SDK through an alias and a helper", files: map[string]string{
			"tsconfig.json":    `{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./src/*"]}}}`,
			"src/app/c.tsx":    "\"use client\"\nimport { model } from '@/lib/model'\nexport default function C() { return <p>{String(model)}</p> }\n",
			"src/lib/model.ts": "import { openai } from '@ai-sdk/openai';\nexport const model = openai('gpt-4.1');\n",
		}, want: []hit{{"src/lib/model.ts", 1, High, "import:@ai-sdk/openai"}}},
		{name: "provider host and server secret", files: map[string]string{
			"app/c.jsx": "'use client'\nexport async function go() {\n  return fetch(`https://api.openai.com/v1/chat/completions`, { headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY } })\n}\n",
		}, want: []hit{{"app/c.jsx", 3, High, "host:api.openai.com"}, {"app/c.jsx", 3, High, "env:OPENAI_API_KEY"}}},
		{name: "public endpoint, placeholder", files: map[string]string{
			"app/models.tsx": "'use client'\nexport const list = () => fetch('https://openrouter.ai/api/v1/models')\n" +
				"export const Hint = () => <input placeholder=\"https://your-resource.openai.azure.com\" />\n",
		}, want: []hit{{"app/models.tsx", 2, Low, "host:openrouter.ai/api"}}},
		// A mixed import still loads the SDK.
		{name: "mixed type and value specifiers", files: map[string]string{
			"app/chat.tsx": "'use client';\nimport { type ChatCompletion, OpenAI } from 'openai';\nexport const ai = (c?: ChatCompletion) => new OpenAI();\n",
		}, want: []hit{{"app/chat.tsx", 2, High, "import:openai"}}},
		// TypeScript and SWC erase imports whose every specifier is a type.
		{name: "type-only imports", files: map[string]string{
			"app/a.tsx":     "'use client';\nimport { type ChatCompletion } from 'openai';\nexport const f = (c: ChatCompletion) => c.id;\n",
			"app/b.tsx":     "'use client';\nimport { type ChatCompletion, type ChatCompletionMessage as M } from 'openai';\nimport type Anthropic from '@anthropic-ai/sdk';\nexport const g = (c: ChatCompletion, m: M, a?: Anthropic) => c.id + m.content;\n",
			"app/c.tsx":     "'use client';\nimport type { Message } from '@anthropic-ai/sdk/resources';\nexport const h = (m: Message) => m.id;\n",
			"tsconfig.json": `{"compilerOptions":{"isolatedModules":true,"verbatimModuleSyntax":false}}`,
		}},
		{name: "server code, UI hooks, Server Actions and server-only modules", files: map[string]string{
			"app/page.tsx":   "import OpenAI from 'openai';\nexport default async function P() { new OpenAI(); return null }\n",
			"app/chat.tsx":   "'use client';\nimport { useChat } from '@ai-sdk/react';\nimport { ask } from './actions';\nimport { helper } from '@/lib/guarded';\nexport default function C() { useChat(); return null }\n",
			"app/actions.ts": "'use server';\nimport Anthropic from '@anthropic-ai/sdk';\nexport async function ask() { return new Anthropic().models.list() }\n",
			"lib/guarded.ts": "import 'server-only';\nimport Groq from 'groq-sdk';\nexport const helper = () => new Groq();\n",
			"tsconfig.json":  `{"compilerOptions":{"paths":{"@/*":["./*"]}}}`,
			"app/x.test.tsx": "'use client';\nimport OpenAI from 'openai';\n",
		}},
	})
}

func TestCheckDangerouslyAllowBrowser(t *testing.T) {
	runCheckCases(t, CheckDangerouslyAllow, []checkCase{
		{name: "provider key in the browser", files: map[string]string{
			"lib/ai.ts": "import OpenAI from 'openai';\nexport const ai = new OpenAI({\n  apiKey: 'x',\n  dangerouslyAllowBrowser: true,\n});\n",
		}, want: []hit{{"lib/ai.ts", 4, High, "dangerouslyAllowBrowser"}}},
		// keyward's browser pattern: a gateway base URL and a token
		// fetched at run time.
		{name: "keyward browser token", files: map[string]string{
			"lib/ai.ts": "import OpenAI from 'openai';\nexport const ai = (token: string) => new OpenAI({ baseURL: 'https://ai.example.com/v1', apiKey: token, dangerouslyAllowBrowser: true });\n",
			"app/chat.tsx": "'use client';\nimport Anthropic from '@anthropic-ai/sdk';\nexport async function ask(url: string) {\n" +
				"  const { token } = await (await fetch('/api/keyward/token', { method: 'POST' })).json();\n" +
				"  return new Anthropic({ baseURL: url, authToken: token, dangerouslyAllowBrowser: true });\n}\n",
		}},
		{name: "provider baseURL is not a gateway", files: map[string]string{
			"lib/ai.js": "export const o = { baseURL: 'https://api.groq.com/openai/v1', dangerouslyAllowBrowser: true };\n",
		}, want: []hit{{"lib/ai.js", 1, High, "dangerouslyAllowBrowser"}}},
		// A key in the bundle is a leak whatever the baseURL; in server
		// code a server env variable is not in any bundle.
		{name: "gateway baseURL with a key", files: map[string]string{
			"app/chat.tsx": "'use client';\nimport OpenAI from 'openai';\nexport const ai = () => new OpenAI({\n  baseURL: '/api/keyward/v1',\n" +
				"  apiKey: process.env.NEXT_PUBLIC_OPENAI_API_KEY,\n  dangerouslyAllowBrowser: true,\n});\n",
			"app/other.tsx": "'use client';\nexport const o = { baseURL: '/v1', apiKey: process.env.KEYWARD_TOKEN, dangerouslyAllowBrowser: true };\n",
			"lib/server.ts": "import 'server-only';\nexport const o = { baseURL: process.env.KEYWARD_URL + '/v1', apiKey: process.env.KEYWARD_SERVER_KEY, dangerouslyAllowBrowser: true };\n" +
				"export const p = { baseURL: process.env.KEYWARD_URL, apiKey: process.env.NEXT_PUBLIC_KEYWARD_KEY, dangerouslyAllowBrowser: true };\n",
		}, want: []hit{{"app/chat.tsx", 6, High, "dangerouslyAllowBrowser"}, {"app/other.tsx", 2, High, "dangerouslyAllowBrowser"},
			{"lib/server.ts", 3, High, "dangerouslyAllowBrowser"}}},
		// Options partly out of sight: the token may be a key.
		{name: "gateway baseURL, options spread from elsewhere", files: map[string]string{
			"lib/ai.ts": "export const o = (rest: object) => ({ ...rest, baseURL: '/v1', dangerouslyAllowBrowser: true });\n",
		}, want: []hit{{"lib/ai.ts", 1, Low, "dangerouslyAllowBrowser"}}},
		{name: "false, or only in a comment or string", files: map[string]string{
			"lib/ai.ts": "// dangerouslyAllowBrowser: true\nexport const o = { dangerouslyAllowBrowser: false, doc: 'dangerouslyAllowBrowser: true' };\n",
		}},
	})
}

func TestCheckMissingServerOnly(t *testing.T) {
	runCheckCases(t, CheckMissingServerOnly, []checkCase{
		{name: "secret module imported by a client module", files: map[string]string{
			"app/c.tsx":     "'use client';\nimport { price } from '../lib/stripe';\nexport default function C() { return <p>{price()}</p> }\n",
			"lib/stripe.ts": "export function price() {\n  return fetch('https://api.stripe.com', { headers: { authorization: process.env.STRIPE_SECRET_KEY! } });\n}\n",
		}, want: []hit{{"lib/stripe.ts", 2, Medium, "module"}}},
		{name: "guarded by server-only", files: map[string]string{
			"app/c.tsx":     "'use client';\nimport { price } from '../lib/stripe';\nexport default function C() { return <p>{price()}</p> }\n",
			"lib/stripe.ts": "import 'server-only';\nexport const price = () => process.env.STRIPE_SECRET_KEY;\n",
		}},
		{name: "imported by server code only", files: map[string]string{
			"app/page.tsx":  "import { price } from '../lib/stripe';\nexport default function P() { return <p>{price()}</p> }\n",
			"lib/stripe.ts": "export const price = () => process.env.STRIPE_SECRET_KEY;\n",
		}},
	})
}

func TestCheckSecretToClient(t *testing.T) {
	client := "'use client';\nexport default function Chat(p: { apiKey?: string; url?: string }) { return <p>{p.url}</p> }\n"
	runCheckCases(t, CheckSecretToClient, []checkCase{
		{name: "prop, bound argument and hidden input", files: map[string]string{
			"app/chat.tsx":   client,
			"app/actions.ts": "'use server';\nexport async function save(key: string, fd: FormData) {}\n",
			"app/page.tsx": "import Chat from './chat';\nimport { save } from './actions';\nexport default function P() {\n  const key = process.env.OPENAI_API_KEY;\n" +
				"  return (\n    <form action={save.bind(null, process.env.STRIPE_SECRET_KEY!)}>\n      <Chat apiKey={key} />\n" +
				"      <input type=\"hidden\" name=\"t\" value={process.env.GITHUB_TOKEN} />\n    </form>\n  );\n}\n",
		}, want: []hit{
			{"app/page.tsx", 6, Critical, "bind:STRIPE_SECRET_KEY"},
			{"app/page.tsx", 7, Critical, "prop:Chat.apiKey:OPENAI_API_KEY"},
			{"app/page.tsx", 8, Critical, "input:GITHUB_TOKEN"},
		}},
		{name: "all of process.env", files: map[string]string{
			"app/chat.tsx": client,
			"app/page.tsx": "import Chat from './chat';\nexport default function P() {\n  return <Chat {...{}} env={process.env} />;\n}\n",
		}, want: []hit{{"app/page.tsx", 3, Critical, "prop:Chat.env:process.env"}}},
		{name: "public values, server children, visible inputs", files: map[string]string{
			"app/chat.tsx":  client,
			"app/panel.tsx": "export default function Panel(p: { token?: string }) { return <p>{p.token ? 'y' : 'n'}</p> }\n",
			"app/page.tsx": "import Chat from './chat';\nimport Panel from './panel';\nexport default function P() {\n  return (<>\n" +
				"    <Chat url={process.env.NEXT_PUBLIC_APP_URL} />\n    <Panel token={process.env.GITHUB_TOKEN} />\n" +
				"    <input type=\"text\" defaultValue={process.env.APP_NAME} />\n  </>);\n}\n",
		}},
	})
}

func TestCheckUnprotectedRoute(t *testing.T) {
	const openaiRoute = "import OpenAI from 'openai';\nexport async function POST() { return Response.json(await new OpenAI().models.list()) }\n"
	const authTS = "export async function auth() { return null }\n"
	const paths = `{"compilerOptions":{"paths":{"@/*":["./*"]}}}`
	runCheckCases(t, CheckUnprotectedRoute, []checkCase{
		{name: "App Router handler calling an SDK", files: map[string]string{
			"app/api/chat/route.ts": "import Anthropic from '@anthropic-ai/sdk';\nconst claude = new Anthropic();\n\nexport async function POST(req: Request) {\n  return Response.json(await claude.messages.create(await req.json()));\n}\n",
		}, want: []hit{{"app/api/chat/route.ts", 4, Medium, "route"}}},
		{name: "API route calling a provider host through a helper", files: map[string]string{
			"pages/api/gen.ts": "import { gen } from '../../lib/gen';\nexport default async function handler(req: any, res: any) { res.json(await gen()) }\n",
			"lib/gen.ts":       "export const gen = () => fetch('https://generativelanguage.googleapis.com/v1beta/models');\n",
		}, want: []hit{{"pages/api/gen.ts", 2, Medium, "route"}}},
		// Headers the handler sends to the provider are the provider's
		// auth, not the caller's.
		{name: "raw fetch sending the provider key upstream", files: map[string]string{
			"app/api/claude/route.ts": "export async function POST(req: Request) {\n  const r = await fetch('https://api.anthropic.com/v1/messages', {\n    method: 'POST',\n" +
				"    headers: { 'x-api-key': process.env.ANTHROPIC_API_KEY!, 'anthropic-version': '2023-06-01' },\n    body: await req.text(),\n  });\n" +
				"  if (r.status === 401) return new Response('bad key', { status: 500 });\n  return r;\n}\n",
			"app/api/gpt/route.js": "export async function POST(req) {\n  return fetch('https://api.openai.com/v1/chat/completions', { method: 'POST', headers: { Authorization: `Bearer ${process.env.OPENAI_API_KEY}` }, body: await req.text() });\n}\n",
		}, want: []hit{{"app/api/claude/route.ts", 1, Medium, "route"}, {"app/api/gpt/route.js", 1, Medium, "route"}}},
		{name: "auth-like names that gate nothing", files: map[string]string{
			"app/api/post/route.ts": "import OpenAI from 'openai';\nimport { auth } from '@/auth';\n" +
				"export async function POST(req: Request) {\n  const { author, authorization, sessionId } = await req.json();\n" +
				"  console.log('session', sessionId, authorization, author);\n  const session = await auth();\n  console.log(session);\n" +
				"  return Response.json(await new OpenAI().models.list());\n}\n",
			// An "authorization" the caller puts in the body proves nothing.
			"app/api/body/route.ts": "import OpenAI from 'openai';\nexport async function POST(req: Request) {\n  const { authorization } = await req.json();\n" +
				"  if (!authorization) return new Response(null, { status: 401 });\n  return Response.json(await new OpenAI().models.list());\n}\n",
			"auth.ts": authTS, "tsconfig.json": paths,
		}, want: []hit{{"app/api/body/route.ts", 2, Medium, "route"}, {"app/api/post/route.ts", 3, Medium, "route"}}},
		{name: "middleware that does not cover the route, or checks nothing", files: map[string]string{
			"app/api/chat/route.ts": openaiRoute,
			"pages/api/gen.ts":      "import OpenAI from 'openai';\nexport default async function handler(req: any, res: any) { res.json(await new OpenAI().models.list()) }\n",
			"middleware.ts": "import { NextResponse, type NextRequest } from 'next/server';\nexport function middleware(req: NextRequest) {\n" +
				"  if (!req.cookies.get('session')) return NextResponse.redirect(new URL('/login', req.url));\n}\n" +
				"export const config = { matcher: ['/dashboard/:path*', '/((?!api|_next/static|_next/image|favicon.ico).*)'] };\n",
		}, want: []hit{{"app/api/chat/route.ts", 2, Medium, "route"}, {"pages/api/gen.ts", 2, Medium, "route"}}},
		{name: "Clerk middleware that protects no route", files: map[string]string{
			"app/api/chat/route.ts": openaiRoute,
			"middleware.ts":         "import { clerkMiddleware } from '@clerk/nextjs/server';\nexport default clerkMiddleware();\nexport const config = { matcher: ['/(api|trpc)(.*)'] };\n",
		}, want: []hit{{"app/api/chat/route.ts", 2, Medium, "route"}}},
		{name: "auth check, rate limit, no provider", files: map[string]string{
			"app/api/a/route.ts": "import OpenAI from 'openai';\nimport { auth } from '@/auth';\nexport async function POST() {\n  const session = await auth();\n  if (!session) return new Response(null, { status: 401 });\n  return Response.json(await new OpenAI().models.list());\n}\n",
			"app/api/b/route.ts": "import OpenAI from 'openai';\nimport { Ratelimit } from '@upstash/ratelimit';\nimport { Redis } from '@upstash/redis';\n" +
				"const ratelimit = new Ratelimit({ redis: Redis.fromEnv(), limiter: Ratelimit.slidingWindow(10, '10 s') });\n" +
				"export async function POST(req: Request) {\n  const { success } = await ratelimit.limit(req.headers.get('x-forwarded-for') ?? 'anon');\n" +
				"  if (!success) return new Response('slow down', { status: 429 });\n  return Response.json(await new OpenAI().models.list());\n}\n",
			"app/api/c/route.ts": "export async function GET() { return Response.json({ ok: true }) }\n",
			"auth.ts":            authTS, "tsconfig.json": paths,
		}},
		{name: "wrapper, throwing verifier, helper, header guard, Pages Router", files: map[string]string{
			"app/api/v5/route.ts": "import OpenAI from 'openai';\nimport { auth } from '@/auth';\nexport const POST = auth(async (req: any) => {\n" +
				"  if (req.auth) return Response.json(await new OpenAI().models.list());\n  return Response.json({ message: 'Not authenticated' }, { status: 401 });\n});\n",
			"app/api/jwt/route.ts": "import OpenAI from 'openai';\nimport jwt from 'jsonwebtoken';\nexport async function POST(req: Request) {\n" +
				"  try {\n    jwt.verify(req.headers.get('authorization') ?? '', process.env.JWT_SECRET!);\n  } catch {\n    return new Response(null, { status: 401 });\n  }\n" +
				"  return Response.json(await new OpenAI().models.list());\n}\n",
			"app/api/helper/route.ts": "import OpenAI from 'openai';\nimport { requireUser } from '@/lib/session';\nexport async function POST() {\n  await requireUser();\n" +
				"  return Response.json(await new OpenAI().models.list());\n}\n",
			"lib/session.ts": "import { unauthorized } from 'next/navigation';\nimport { auth } from '@/auth';\nexport async function requireUser() {\n" +
				"  const session = await auth();\n  if (!session) unauthorized();\n  return session.user;\n}\n",
			"app/api/cron/route.ts": "import OpenAI from 'openai';\nexport async function GET(req: Request) {\n" +
				"  if (req.headers.get('authorization') !== `Bearer ${process.env.CRON_SECRET}`) return new Response(null, { status: 401 });\n" +
				"  return Response.json(await new OpenAI().models.list());\n}\n",
			"pages/api/summary.ts": "import { getServerSession } from 'next-auth/next';\nimport OpenAI from 'openai';\nexport default async function handler(req: any, res: any) {\n" +
				"  const session = await getServerSession(req, res, {});\n  if (!session) {\n    res.status(401).end();\n    return;\n  }\n  res.json(await new OpenAI().models.list());\n}\n",
			"auth.ts": authTS, "tsconfig.json": paths,
		}},
		{name: "middleware that checks auth and covers the route", files: map[string]string{
			"app/api/chat/route.ts": openaiRoute,
			"middleware.ts": "import { NextResponse, type NextRequest } from 'next/server';\nimport { getToken } from 'next-auth/jwt';\n" +
				"export async function middleware(req: NextRequest) {\n  const token = await getToken({ req });\n" +
				"  if (!token) return NextResponse.json({ error: 'unauthorized' }, { status: 401 });\n  return NextResponse.next();\n}\n" +
				"export const config = { matcher: ['/dashboard/:path*', '/api/:path*'] };\n",
		}},
		{name: "Clerk middleware protecting every route", files: map[string]string{
			"app/(chat)/api/chat/[id]/route.ts": openaiRoute,
			"src/nothing.ts":                    "export {};\n",
			"middleware.ts": "import { clerkMiddleware } from '@clerk/nextjs/server';\nexport default clerkMiddleware(async (auth) => { await auth.protect() });\n" +
				"export const config = {\n  matcher: [\n    '/((?!_next|[^?]*\\\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)',\n    '/(api|trpc)(.*)',\n  ],\n};\n",
		}},
		{name: "proxy.ts without matcher runs for every route", files: map[string]string{
			"src/app/api/chat/route.ts": openaiRoute,
			"src/proxy.ts": "import { NextResponse, type NextRequest } from 'next/server';\nexport function proxy(req: NextRequest) {\n" +
				"  if (!req.cookies.get('session')) return NextResponse.redirect(new URL('/login', req.url));\n}\n",
		}},
	})
}

func TestMatcherMatches(t *testing.T) {
	clerk := `/((?!_next|[^?]*\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)`
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"/api/:path*", "/api/chat", true},
		{"/api/:path*", "/api", true},
		{"/api/:path*", "/apis/chat", false},
		{"/dashboard/:path*", "/api/chat", false},
		{"/api/:path+", "/api", false},
		{"/api/chat", "/api/chat", true},
		{"/api/:id", "/api/chat/x", false},
		{"/(api|trpc)(.*)", "/api/chat", true},
		{"/((?!api|_next/static|_next/image|favicon.ico).*)", "/api/chat", false},
		{"/((?!api|_next/static|_next/image|favicon.ico).*)", "/dashboard", true},
		{clerk, "/api/chat", true},
		{clerk, "/_next/static/x.js", false},
		{"/((?!api)(?!x).*)", "/dashboard", false}, // unreadable: matches nothing
	} {
		if got := matcherMatches(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matcherMatches(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		"app/api/chat/route.ts": "/api/chat", "src/app/(g)/api/[id]/route.js": "/api/x", "app/route.ts": "/",
		"pages/api/index.ts": "/api", "src/pages/api/[...slug].ts": "/api/x", "app/api/[[...slug]]/route.ts": "/api",
	} {
		if got := routeURL(in); got != want {
			t.Errorf("routeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckEnvFileInDeployment(t *testing.T) {
	runCheckCases(t, CheckEnvFileInDeployment, []checkCase{
		{name: "COPY an env file", files: map[string]string{
			"Dockerfile": "FROM node:20\n# secrets\nCOPY --chown=node:node .env.production \\\n  ./\n",
		}, want: []hit{{"Dockerfile", 3, High, "copy:.env.production"}}},
		{name: "COPY the context with env files", files: map[string]string{
			"Dockerfile": "FROM node:20\nCOPY . .\n", ".env": "OPENAI_API_KEY=abc\n", ".dockerignore": "node_modules\n",
		}, want: []hit{{"Dockerfile", 2, High, "copy-context"}}},
		{name: "standalone with .env", files: map[string]string{
			"next.config.js": "module.exports = {\n  output: 'standalone',\n};\n", ".env.production": "STRIPE_SECRET_KEY=abc\n",
		}, want: []hit{{"next.config.js", 2, Medium, "standalone"}}},
		{name: "dockerignored env files, stage copies, templates", files: map[string]string{
			"Dockerfile":    "FROM node:20 AS build\nCOPY . .\nFROM node:20\nCOPY --from=build /app/.next/standalone ./\nCOPY .env.example ./\n",
			".dockerignore": "**/.env*\n!.env.example\n",
			".env":          "OPENAI_API_KEY=abc\n",
			".env.example":  "OPENAI_API_KEY=\n",
		}},
		{name: "standalone with only .env.local and templates", files: map[string]string{
			"next.config.js": "module.exports = { output: 'standalone' };\n",
			".env.local":     "OPENAI_API_KEY=abc\n",
			".env.example":   "OPENAI_API_KEY=\n",
		}},
	})
}

func TestCheckVulnerableNext(t *testing.T) {
	pkg := func(v string) string { return `{"dependencies":{"next":"` + v + `"}}` }
	const (
		f82v = "advisory:GHSA-f82v-jwr5-mffw"
		qr9  = "advisory:GHSA-9qr9-h5gf-34mp"
		c267 = "advisory:GHSA-267c-6grr-h53f"
		h64f = "advisory:GHSA-h64f-5h5j-jqjh"
		h8q  = "advisory:GHSA-8h8q-6873-q5fj"
		v492 = "advisory:GHSA-492v-c6pp-mqqv"
		hh26 = "advisory:GHSA-26hh-7cqf-hhc6"
		gpp6 = "advisory:GHSA-6gpp-xcg3-4w24"
	)
	runCheckCases(t, CheckVulnerableNext, []checkCase{
		// No lockfile: a range that allows affected versions (and fixed
		// ones) is reported one severity lower than the advisory.
		{name: "package.json range", files: map[string]string{"package.json": pkg("^15.2.2")}, want: []hit{
			{"package.json", 1, High, qr9}, {"package.json", 1, High, f82v},
			{"package.json", 1, Medium, c267}, {"package.json", 1, Medium, hh26}, {"package.json", 1, Medium, v492}, {"package.json", 1, Medium, h8q},
			{"package.json", 1, Low, h64f}}},
		// Every version "~15.1.0" allows is before 15.2.3, 15.5.16: as bad as
		// installed; the RCE was fixed in 15.1.9, inside the range.
		{name: "range all affected", files: map[string]string{"package.json": pkg("~15.1.0")}, want: []hit{
			{"package.json", 1, Critical, f82v}, {"package.json", 1, High, h8q}, {"package.json", 1, High, qr9},
			{"package.json", 1, Medium, h64f}}},
		{name: "package-lock.json", files: map[string]string{"package.json": pkg("^15.5.0"),
			"package-lock.json": "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"node_modules/next\": {\"version\": \"15.5.6\"}\n  }\n}\n"},
			want: []hit{{"package-lock.json", 4, Critical, qr9}, {"package-lock.json", 4, High, c267}, {"package-lock.json", 4, High, hh26},
				{"package-lock.json", 4, High, v492}, {"package-lock.json", 4, High, h8q}, {"package-lock.json", 4, Medium, h64f}}},
		{name: "pnpm-lock.yaml", files: map[string]string{"package.json": pkg("^16.0.0"),
			"pnpm-lock.yaml": "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      next:\n        specifier: ^16.0.0\n        version: 16.0.6(react-dom@19.2.0(react@19.2.0))(react@19.2.0)\n"},
			want: []hit{{"pnpm-lock.yaml", 5, Critical, qr9}, {"pnpm-lock.yaml", 5, High, c267}, {"pnpm-lock.yaml", 5, High, hh26},
				{"pnpm-lock.yaml", 5, High, v492}, {"pnpm-lock.yaml", 5, High, gpp6}, {"pnpm-lock.yaml", 5, High, h8q}, {"pnpm-lock.yaml", 5, Medium, h64f}}},
		{name: "yarn.lock", files: map[string]string{"package.json": pkg("^14.2.0"),
			"yarn.lock": "# yarn lockfile v1\n\n\"next@^14.2.0\":\n  version \"14.2.24\"\n  resolved \"https://registry.yarnpkg.com/next/-/next-14.2.24.tgz\"\n"},
			want: []hit{{"yarn.lock", 4, Critical, f82v}, {"yarn.lock", 4, High, h8q}, {"yarn.lock", 4, Medium, h64f}}},
		{name: "bun.lock", files: map[string]string{"package.json": pkg("^16.2.0"),
			"bun.lock": "{\n  \"lockfileVersion\": 1,\n  \"packages\": {\n    \"next\": [\"next@16.2.5\", \"\", {}, \"sha512-AAAA\"],\n  },\n}\n"},
			want: []hit{{"bun.lock", 4, High, hh26}, {"bun.lock", 4, High, gpp6}}},
		{name: "installed canary", files: map[string]string{"package.json": pkg("canary"),
			"node_modules/next/package.json": `{"name":"next","version":"14.3.0-canary.80"}`},
			want: []hit{{"node_modules/next/package.json", 1, Critical, qr9}, {"node_modules/next/package.json", 1, High, h8q},
				{"node_modules/next/package.json", 1, Medium, h64f}}},
		// The installed version wins over the lockfile, the lockfile over
		// package.json.
		{name: "installed over locked", files: map[string]string{"package.json": pkg("^16.0.0"),
			"node_modules/next/package.json": `{"name":"next","version":"16.2.11"}`,
			"pnpm-lock.yaml":                 "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      next:\n        specifier: ^16.0.0\n        version: 16.0.6\n"}},
		// 16.2.4, pinned: every version the "range" allows is affected.
		{name: "last affected 16.x", files: map[string]string{"package.json": pkg("16.2.4")},
			want: []hit{{"package.json", 1, High, c267}, {"package.json", 1, High, hh26}, {"package.json", 1, High, v492},
				{"package.json", 1, High, gpp6}, {"package.json", 1, High, h8q}, {"package.json", 1, Medium, h64f}}},
		{name: "fixed versions", files: map[string]string{"package.json": pkg("16.4.0")}},
		{name: "fixed 16.2 line", files: map[string]string{"package.json": pkg("^16.2.11")}},
		{name: "fixed 15.5 line", files: map[string]string{"package.json": pkg("~15.5.18")}},
		// ^16.2.5 allows 16.2.5 to 16.2.10, still affected by the Turbopack
		// bypasses.
		{name: "range reaching into a later advisory", files: map[string]string{"package.json": pkg("^16.2.5")},
			want: []hit{{"package.json", 1, Medium, hh26}, {"package.json", 1, Medium, gpp6}}},
		{name: "range of a canary line", files: map[string]string{"package.json": pkg("^14.2.20")},
			want: []hit{{"package.json", 1, High, h8q}, {"package.json", 1, High, f82v}, {"package.json", 1, Medium, h64f}}},
		{name: "unreadable range", files: map[string]string{"package.json": pkg("latest")}},
		{name: "npm alias", files: map[string]string{"package.json": pkg("npm:next@16.2.4")},
			want: []hit{{"package.json", 1, High, c267}, {"package.json", 1, High, hh26}, {"package.json", 1, High, v492},
				{"package.json", 1, High, gpp6}, {"package.json", 1, High, h8q}, {"package.json", 1, Medium, h64f}}},
	})
}

// TestLockfiles audits a workspace per lockfile kind (testdata/lockfiles),
// each with apps on different Next.js versions in one lockfile at the
// workspace root: each app's version is read from its own entry. An
// advisory that affects both apps is one finding on the lockfile (one per
// check, file and subject, as for every check), at the first place, whose
// message counts the other.
func TestLockfiles(t *testing.T) {
	type vhit struct {
		App, Path string
		Line      int
		Severity  Severity
		Subject   string
		Merged    bool // "(and 1 more place in this file)"
	}
	const (
		f82v = "advisory:GHSA-f82v-jwr5-mffw"
		qr9  = "advisory:GHSA-9qr9-h5gf-34mp"
		c267 = "advisory:GHSA-267c-6grr-h53f"
		h64f = "advisory:GHSA-h64f-5h5j-jqjh"
		h8q  = "advisory:GHSA-8h8q-6873-q5fj"
		v492 = "advisory:GHSA-492v-c6pp-mqqv"
		hh26 = "advisory:GHSA-26hh-7cqf-hhc6"
		gpp6 = "advisory:GHSA-6gpp-xcg3-4w24"
	)
	for _, tt := range []struct {
		name string
		want []vhit
	}{
		// web: 14.2.24 (apps/web/node_modules/next); docs: 15.5.6 (hoisted).
		{"npm", []vhit{{"apps/web", "package-lock.json", 26, Critical, f82v, false}, {"apps/web", "package-lock.json", 26, High, h8q, true},
			{"apps/web", "package-lock.json", 26, Medium, h64f, true},
			{"apps/docs", "package-lock.json", 39, Critical, qr9, false}, {"apps/docs", "package-lock.json", 39, High, c267, false},
			{"apps/docs", "package-lock.json", 39, High, hh26, false}, {"apps/docs", "package-lock.json", 39, High, v492, false}}},
		// docs: 16.2.5 (importer apps/docs, after eslint-config-next); web: 14.2.24.
		{"pnpm", []vhit{{"apps/docs", "pnpm-lock.yaml", 16, High, hh26, false}, {"apps/docs", "pnpm-lock.yaml", 16, High, gpp6, false},
			{"apps/web", "pnpm-lock.yaml", 25, Critical, f82v, false}, {"apps/web", "pnpm-lock.yaml", 25, High, h8q, false},
			{"apps/web", "pnpm-lock.yaml", 25, Medium, h64f, false}}},
		// docs asks for "15.5.6", web for "^14.2.0": each gets its entry.
		{"yarn-classic", []vhit{{"apps/docs", "yarn.lock", 10, Critical, qr9, false}, {"apps/docs", "yarn.lock", 10, High, c267, false},
			{"apps/docs", "yarn.lock", 10, High, hh26, false}, {"apps/docs", "yarn.lock", 10, High, v492, false},
			{"apps/docs", "yarn.lock", 10, High, h8q, true}, {"apps/docs", "yarn.lock", 10, Medium, h64f, true},
			{"apps/web", "yarn.lock", 16, Critical, f82v, false}}},
		// "next@npm:^16.0.0", not @next/env's entry above it.
		{"yarn-berry", []vhit{{"apps/web", "yarn.lock", 16, Critical, qr9, false}, {"apps/web", "yarn.lock", 16, High, c267, false},
			{"apps/web", "yarn.lock", 16, High, hh26, false}, {"apps/web", "yarn.lock", 16, High, v492, false},
			{"apps/web", "yarn.lock", 16, High, gpp6, false}, {"apps/web", "yarn.lock", 16, High, h8q, false},
			{"apps/web", "yarn.lock", 16, Medium, h64f, false}}},
		// web: "web/next" 14.2.24; docs: the hoisted "next" 16.2.10.
		{"bun", []vhit{{"apps/docs", "bun.lock", 22, High, gpp6, false},
			{"apps/web", "bun.lock", 29, Critical, f82v, false}, {"apps/web", "bun.lock", 29, High, h8q, false},
			{"apps/web", "bun.lock", 29, Medium, h64f, false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("testdata", "lockfiles", tt.name))
			res := auditDir(t, dir, Options{})
			var got []vhit
			for _, f := range res.Findings {
				if f.CheckID != CheckVulnerableNext {
					continue
				}
				got = append(got, vhit{f.App, f.Path, f.Line, f.Severity, f.Subject, strings.HasSuffix(f.Message, "(and 1 more place in this file)")})
				if !strings.Contains(f.Message, "("+filepath.Base(f.Path)+")") {
					t.Errorf("message does not name the lockfile: %s", f.Message)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBuildOutputSecret(t *testing.T) {
	key := fakeGroqKey(20)
	runCheckCases(t, CheckBuildOutputSecret, []checkCase{
		{name: "static chunk and export", files: map[string]string{
			".next/static/chunks/app/page.js": `(()=>{let k="` + key + `"})();`,
			"out/index.html":                  "<html>\n<script>var k=\"" + key + "\"</script></html>",
			"public/config.js":                "window.GROQ = \"" + key + "\";\n",
		}, want: []hit{
			{".next/static/chunks/app/page.js", 1, Critical, "secret:" + fingerprintOf("groq-api-key", key)},
			{"out/index.html", 2, Critical, "secret:" + fingerprintOf("groq-api-key", key)},
			{"public/config.js", 1, Critical, "secret:" + fingerprintOf("groq-api-key", key)},
		}},
		{name: "Firebase web API key from the public env, and a Gemini key", files: map[string]string{
			".env":                                "NEXT_PUBLIC_FIREBASE_API_KEY=" + fakeGoogleKey(21) + "\n",
			".next/static/chunks/app/firebase.js": `let c={apiKey:"` + fakeGoogleKey(21) + `"};let g="` + fakeGoogleKey(22) + `";`,
		}, want: []hit{
			{".next/static/chunks/app/firebase.js", 1, Low, "secret:" + fingerprintOf("google-api-key", fakeGoogleKey(21))},
			{".next/static/chunks/app/firebase.js", 1, Critical, "secret:" + fingerprintOf("google-api-key", fakeGoogleKey(22))},
		}},
		{name: "server bundles and cache", files: map[string]string{
			".next/server/chunks/route.js": `let k="` + key + `";`,
			".next/cache/webpack/x.pack":   `k="` + key + `"`,
			".next/static/chunks/clean.js": `console.log(1)`,
		}},
	})
}

// TestBrokenModules: a module esbuild cannot parse, and imports it cannot
// resolve, cost their own edges and a note, not the audit.
func TestBrokenModules(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"package.json":   nextPkg,
		"app/broken.tsx": "export const = ;\n",
		"app/page.tsx":   "import './broken';\nimport x from './missing';\nimport s from './styles.module.css';\nimport i from './logo.weird';\nexport default function P() { return null }\n",
		"app/chat.tsx":   "'use client';\nimport './broken';\nimport OpenAI from 'openai';\nexport const c = () => new OpenAI();\n",
	})
	res := auditDir(t, dir, Options{})
	var got []hit
	for _, f := range res.Findings {
		got = append(got, hit{f.Path, f.Line, f.Severity, f.Subject})
	}
	if diff := cmp.Diff([]hit{{"app/chat.tsx", 3, High, "import:openai"}}, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "app/broken.tsx:1") {
		t.Errorf("notes = %q, want one about app/broken.tsx", res.Notes)
	}
}

// TestDiscover finds every app of a monorepo and its workspace packages.
func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"package.json":                         `{"private":true}`,
		"pnpm-workspace.yaml":                  "packages:\n  - apps/*\n  - packages/**\n  - '!packages/legacy'\n",
		"apps/web/package.json":                `{"name":"web","dependencies":{"next":"16.4.6"}}`,
		"apps/admin/package.json":              `{"name":"admin","devDependencies":{"next":"16.4.6"}}`,
		"apps/api/package.json":                `{"name":"api","dependencies":{"express":"5"}}`,
		"packages/ui/package.json":             `{"name":"@acme/ui"}`,
		"packages/deep/ai/package.json":        `{"name":"@acme/ai"}`,
		"packages/legacy/package.json":         `{"name":"@acme/legacy"}`,
		"apps/web/node_modules/x/package.json": `{"name":"x","dependencies":{"next":"1"}}`,
	})
	p, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, a := range p.Apps {
		apps = append(apps, a.Rel)
		if a.WorkspaceRoot != dir {
			t.Errorf("%s: workspace root %s, want %s", a.Rel, a.WorkspaceRoot, dir)
		}
	}
	if diff := cmp.Diff([]string{"apps/admin", "apps/web"}, apps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	var names []string
	for n := range p.Apps[0].Workspace {
		names = append(names, n)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"@acme/ai", "@acme/ui", "admin", "api", "web"}, names); diff != "" {
		t.Errorf("workspace packages (-want +got):\n%s", diff)
	}
}

// TestBuild runs --build with a stand-in for next that checks telemetry is
// off and writes a chunk the way next build would inline a public key.
func TestBuild(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in for next is a shell script")
	}
	key := fakeGroqKey(40)
	script := "#!/bin/sh\n[ \"$NEXT_TELEMETRY_DISABLED\" = 1 ] || { echo telemetry on >&2; exit 3; }\n[ \"$1\" = build ] || exit 4\n" +
		"mkdir -p .next/static/chunks && printf 'let k=\"%s\";' \"$FAKE_KEY\" > .next/static/chunks/main.js\necho built\n"
	for _, tt := range []struct {
		name   string
		script string
		want   []hit
		err    string
	}{
		{name: "build then scan", script: script, want: []hit{{".next/static/chunks/main.js", 1, Critical, "secret:" + fingerprintOf("groq-api-key", key)}}},
		{name: "failed build", script: "#!/bin/sh\necho broken >&2\nexit 1\n", err: "next build in .: exit status 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"package.json": nextPkg, "node_modules/.bin/next": tt.script})
			if err := os.Chmod(filepath.Join(dir, "node_modules", ".bin", "next"), 0o755); err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			res, err := Run(context.Background(), dir, Options{Build: true, BuildLog: &log, Env: append(os.Environ(), "FAKE_KEY="+key)})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			var got []hit
			for _, f := range res.Findings {
				got = append(got, hit{f.Path, f.Line, f.Severity, f.Subject})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if !strings.Contains(log.String(), "built") {
				t.Errorf("build log %q", log.String())
			}
		})
	}
}

// TestFirebaseKeyMessage: the low finding says why and how to restrict the
// key, not to rotate it.
func TestFirebaseKeyMessage(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"package.json": nextPkg, ".env": "NEXT_PUBLIC_FIREBASE_API_KEY=" + fakeGoogleKey(23) + "\n"})
	res := auditDir(t, dir, Options{})
	if len(res.Findings) != 1 {
		t.Fatalf("findings: %+v", res.Findings)
	}
	f := res.Findings[0]
	for _, s := range []string{"Firebase web API key", "public by design", "Gemini", "Generative Language API"} {
		if !strings.Contains(f.Message, s) {
			t.Errorf("message %q lacks %q", f.Message, s)
		}
	}
	for _, s := range []string{"API restrictions", "Generative Language API", "HTTP referrers"} {
		if !strings.Contains(f.Fix, s) {
			t.Errorf("fix %q lacks %q", f.Fix, s)
		}
	}
	if strings.Contains(f.Fix, "rotate") || strings.Contains(f.Message, fakeGoogleKey(23)) {
		t.Errorf("finding says rotate or shows the key: %+v", f)
	}
}
