package nextaudit

import (
	"strings"
	"testing"
)

// useClient makes a client module of its lines.
func useClient(lines ...string) string {
	return "'use client';\n" + strings.Join(lines, "\n") + "\n"
}

// fetchToken is how a client component gets a keyward browser token.
const fetchToken = "  const { token, url } = await (await fetch('/api/keyward/token', { method: 'POST' })).json();"

// TestClientProviderAccessGateway: an SDK client in browser code pointed
// at a gateway (a base URL that is not a provider's host) and holding no
// key is keyward's browser pattern, in every form it is written in; a
// client that goes to the provider, or holds a key, is still a finding.
func TestClientProviderAccessGateway(t *testing.T) {
	runCheckCases(t, CheckClientProviderAccess, []checkCase{
		// Safe: no client-provider-access finding.
		{name: "OpenAI with a browser token", files: map[string]string{
			"app/chat.tsx": useClient("import OpenAI from 'openai';", "export async function ask() {", fetchToken,
				"  const ai = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, dangerouslyAllowBrowser: true });",
				"  return ai.chat.completions.create({ model: 'fast', messages: [] });", "}"),
		}},
		{name: "Anthropic with apiKey or authToken", files: map[string]string{
			"app/a.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';", "export async function ask() {", fetchToken,
				"  return new Anthropic({ baseURL: url, apiKey: token, dangerouslyAllowBrowser: true });", "}"),
			"app/b.jsx": useClient("import Anthropic from '@anthropic-ai/sdk';",
				"export const claude = (url, token) => new Anthropic({ baseURL: url, authToken: token, apiKey: null, dangerouslyAllowBrowser: true });"),
		}},
		{name: "renamed default and named imports", files: map[string]string{
			"app/a.tsx": useClient("import AI, { OpenAI as Client } from 'openai';", "import { Anthropic } from '@anthropic-ai/sdk';",
				"export const a = (token: string) => new AI({ baseURL: '/api/keyward/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"export const b = (token: string) => new Client({ baseURL: '/api/keyward/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"export const c = (token: string) => new Anthropic({ baseURL: '/api/keyward', apiKey: token, dangerouslyAllowBrowser: true });"),
		}},
		{name: "options in a const, spreads of a const", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';", "const shared = { baseURL: '/api/keyward/v1', dangerouslyAllowBrowser: true };",
				"export function make(token: string) {", "  const opts = { ...shared, apiKey: token };", "  return new OpenAI(opts);", "}",
				"export const again = (token: string) => new OpenAI({ ...shared, apiKey: token });"),
		}},
		{name: "AI SDK factories", files: map[string]string{
			"app/a.tsx": useClient("import { createOpenAI } from '@ai-sdk/openai';", "import { createAnthropic as claude } from '@ai-sdk/anthropic';",
				"import { streamText } from 'ai';", "export async function ask(prompt: string) {", fetchToken,
				"  const openai = createOpenAI({ baseURL: `${url}/v1`, apiKey: token });",
				"  const anthropic = claude({ baseURL: url, authToken: token, headers: { 'x-app': 'web' } });",
				"  return [streamText({ model: openai('fast'), prompt }), streamText({ model: anthropic('smart'), prompt })];", "}"),
			"app/b.jsx": useClient("import { createOpenAICompatible } from '@ai-sdk/openai-compatible';",
				"export const gw = (token) => createOpenAICompatible({ name: 'keyward', baseURL: '/api/keyward/v1', apiKey: token });"),
		}},
		{name: "namespace import", files: map[string]string{
			"app/a.ts": useClient("import * as sdk from 'openai';", "import * as claude from '@anthropic-ai/sdk';",
				"export const a = (token: string) => new sdk.OpenAI({ baseURL: '/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"export const b = (token: string) => new sdk.default({ baseURL: '/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"export const c = (token: string) => new claude.Anthropic({ baseURL: '/', apiKey: token, dangerouslyAllowBrowser: true });"),
		}},
		{name: "require and dynamic import", files: map[string]string{
			"app/a.js": useClient("const OpenAI = require('openai');", "const { createOpenAI: mk } = require('@ai-sdk/openai');",
				"export const a = (token) => new OpenAI({ baseURL: '/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"export const b = (token) => mk({ baseURL: '/v1', apiKey: token });"),
			"app/b.tsx": useClient("export async function ask(token: string) {", "  const { default: Claude } = await import('@anthropic-ai/sdk');",
				"  const oa = await import('openai');",
				"  return [new Claude({ baseURL: '/k', apiKey: token, dangerouslyAllowBrowser: true }), new oa.OpenAI({ baseURL: '/k/v1', apiKey: token, dangerouslyAllowBrowser: true })];", "}"),
		}},
		{name: "Groq and Mistral", files: map[string]string{
			"app/a.tsx": useClient("import Groq from 'groq-sdk';", "import { Mistral } from '@mistralai/mistralai';",
				"export const g = (t: string) => new Groq({ baseURL: '/api/keyward', apiKey: t, dangerouslyAllowBrowser: true });",
				"export const m = (t: string) => new Mistral({ serverURL: '/api/keyward', apiKey: t });"),
		}},
		// @keyward/next/browser only ever holds short-lived tokens.
		{name: "keyward browser helper", files: map[string]string{
			"app/a.tsx": useClient("import { createBrowserKeyward } from '@keyward/next/browser';", "import type OpenAI from 'openai';",
				"const kw = createBrowserKeyward();", "export const ai = (): Promise<OpenAI> => kw.openai();"),
		}},
		{name: "same-origin URLs, state, props and placeholders", files: map[string]string{
			"app/a.tsx": useClient("import { useState } from 'react';", "import OpenAI from 'openai';",
				"export function Chat({ gateway }: { gateway: string }) {", "  const [token] = useState('');",
				"  const a = new OpenAI({ baseURL: window.location.origin + '/api/keyward/v1', apiKey: token, dangerouslyAllowBrowser: true });",
				"  const b = new OpenAI({ baseURL: 'https://app.example.com/keyward/v1', apiKey: 'browser-token', dangerouslyAllowBrowser: true });",
				"  const c = new OpenAI({ baseURL: new URL('/v1', gateway).href, apiKey: getToken(), dangerouslyAllowBrowser: true });",
				"  return <p>{String([a, b, c])}</p>;", "}",
				"const getToken = () => sessionStorage.getItem(process.env.NEXT_PUBLIC_TOKEN_SLOT ?? 'kw');"),
		}},
		{name: "error classes", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI, { APIError } from 'openai';",
				"export async function ask(token: string) {",
				"  try { return await new OpenAI({ baseURL: '/v1', apiKey: token, dangerouslyAllowBrowser: true }).models.list(); }",
				"  catch (e) { if (e instanceof OpenAI.APIError || e instanceof APIError) return null; throw e; }", "}"),
		}},
		// The SDK's error classes next to the keyward helper's client.
		{name: "error classes only", files: map[string]string{
			"app/a.tsx": useClient("import { createBrowserKeyward } from '@keyward/next/browser';", "import OpenAI, { APIError } from 'openai';",
				"const kw = createBrowserKeyward();", "export async function ask() {",
				"  try { return await (await kw.openai()).models.list(); }",
				"  catch (e) { if (e instanceof OpenAI.APIError || e instanceof APIError) return null; throw e; }", "}"),
		}},
		{name: "base URL from an env variable that is not a provider's", files: map[string]string{
			".env": "NEXT_PUBLIC_KEYWARD_URL=https://keyward.example.com\n",
			"app/a.tsx": useClient("import OpenAI from 'openai';",
				"export const ai = (token: string) => new OpenAI({ baseURL: `${process.env.NEXT_PUBLIC_KEYWARD_URL}/v1`, apiKey: token, dangerouslyAllowBrowser: true });",
				"const base = process.env.NEXT_PUBLIC_GATEWAY;",
				"export const other = (token: string) => new OpenAI({ baseURL: base, apiKey: token, dangerouslyAllowBrowser: true });"),
		}},

		// Unsafe: the same findings as before the gateway pattern.
		{name: "no baseURL", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';", "export const ai = (token: string) => new OpenAI({ apiKey: token, dangerouslyAllowBrowser: true });"),
			"app/b.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';", "export const ai = () => new Anthropic;"),
			"app/c.tsx": useClient("import OpenAI from 'openai';", "export const ai = (t: string) => new OpenAI({ baseURL: undefined, apiKey: t });",
				"export const ai2 = (t: string) => new OpenAI({ baseURL: '', apiKey: t });"),
			// Anthropic reads baseURL; baseUrl leaves it on the provider.
			"app/d.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';", "export const ai = (t: string) => new Anthropic({ baseUrl: '/k', apiKey: t });"),
			"app/e.tsx": useClient("import { Mistral } from '@mistralai/mistralai';", "export const ai = (t: string) => new Mistral({ baseURL: '/k', apiKey: t });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}, {"app/b.tsx", 2, High, "import:@anthropic-ai/sdk"},
			{"app/c.tsx", 2, High, "import:openai"}, {"app/d.tsx", 2, High, "import:@anthropic-ai/sdk"}, {"app/e.tsx", 2, High, "import:@mistralai/mistralai"}}},
		{name: "baseURL of a provider", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';",
				"export const ai = (t: string) => new OpenAI({ baseURL: 'https://api.openai.com/v1', apiKey: t, dangerouslyAllowBrowser: true });"),
			"app/b.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';",
				"export const ai = (t: string, v: string) => new Anthropic({ baseURL: `https://api.anthropic.com/${v}`, apiKey: t, dangerouslyAllowBrowser: true });"),
			"app/c.tsx": useClient("import { createOpenAI } from '@ai-sdk/openai';", "const GROQ = 'https://api.groq.com/openai/v1';",
				"export const ai = (t: string) => createOpenAI({ baseURL: GROQ, apiKey: t });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}, {"app/a.tsx", 3, High, "host:api.openai.com"},
			{"app/b.tsx", 2, High, "import:@anthropic-ai/sdk"}, {"app/b.tsx", 3, High, "host:api.anthropic.com"},
			{"app/c.tsx", 2, High, "import:@ai-sdk/openai"}, {"app/c.tsx", 3, High, "host:api.groq.com"}}},
		// The value in the env file names the provider.
		{name: "baseURL from an env variable holding a provider URL", files: map[string]string{
			".env.local": "NEXT_PUBLIC_AI_BASE=https://api.openai.com/v1\n",
			"app/a.tsx":  useClient("import OpenAI from 'openai';", "export const ai = (t: string) => new OpenAI({ baseURL: process.env.NEXT_PUBLIC_AI_BASE, apiKey: t, dangerouslyAllowBrowser: true });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}}},
		// A key in the bundle is the bug, whatever the baseURL.
		{name: "gateway baseURL with a key from the env", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';",
				"export const ai = () => new OpenAI({ baseURL: '/api/keyward/v1', apiKey: process.env.NEXT_PUBLIC_OPENAI_API_KEY, dangerouslyAllowBrowser: true });"),
			"app/b.tsx": useClient("import OpenAI from 'openai';", "const key = process.env.NEXT_PUBLIC_OPENAI_API_KEY;",
				"export const ai = () => new OpenAI({ baseURL: '/v1', apiKey: key, dangerouslyAllowBrowser: true });"),
			"app/c.tsx": useClient("import { createAnthropic } from '@ai-sdk/anthropic';", "export const ai = () => createAnthropic({ baseURL: '/k', apiKey: import.meta.env.VITE_CLAUDE_KEY });"),
			"app/d.tsx": useClient("import OpenAI from 'openai';", "export const ai = () => new OpenAI({ baseURL: '/v1', apiKey: process.env.KEYWARD_SERVER_KEY, dangerouslyAllowBrowser: true });"),
			"app/e.tsx": useClient("import { createOpenAI } from '@ai-sdk/openai';",
				"export const ai = () => createOpenAI({ baseURL: '/v1', headers: { Authorization: `Bearer ${process.env.NEXT_PUBLIC_OPENAI_API_KEY}` } });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}, {"app/b.tsx", 2, High, "import:openai"},
			{"app/c.tsx", 2, High, "import:@ai-sdk/anthropic"}, {"app/d.tsx", 2, High, "import:openai"}, {"app/d.tsx", 3, High, "env:KEYWARD_SERVER_KEY"},
			{"app/e.tsx", 2, High, "import:@ai-sdk/openai"}}},
		{name: "gateway baseURL with a key-shaped literal", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';",
				"export const ai = () => new OpenAI({ baseURL: '/v1', apiKey: '"+fakeOpenAIKey(30)+"', dangerouslyAllowBrowser: true });"),
			"app/b.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';", "const KEY = '"+fakeChars(31, alnum, 40)+"';",
				"export const ai = () => new Anthropic({ baseURL: '/k', apiKey: KEY, dangerouslyAllowBrowser: true });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}, {"app/b.tsx", 2, High, "import:@anthropic-ai/sdk"}}},
		{name: "options out of sight", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';", "export const ai = (o: object) => new OpenAI(o);"),
			"app/b.tsx": useClient("import OpenAI from 'openai';", "export const ai = (p: { o: object }, t: string) => new OpenAI({ ...p.o, baseURL: '/v1', apiKey: t });"),
			"app/c.tsx": useClient("import OpenAI from 'openai';", "export const ai = () => new OpenAI(makeOptions());"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:openai"}, {"app/b.tsx", 2, High, "import:openai"}, {"app/c.tsx", 2, High, "import:openai"}}},
		// One safe client does not vouch for the rest of the module.
		{name: "other uses of the SDK next to a safe client", files: map[string]string{
			"app/a.tsx": useClient("import { createOpenAI, openai } from '@ai-sdk/openai';",
				"export const gw = (t: string) => createOpenAI({ baseURL: '/v1', apiKey: t });", "export const direct = openai('gpt-4.1');"),
			"app/b.tsx": useClient("import OpenAI from 'openai';", "export const ok = (t: string) => new OpenAI({ baseURL: '/v1', apiKey: t });",
				"export const bad = () => new OpenAI();"),
			"app/c.tsx": useClient("import OpenAI, { AzureOpenAI } from 'openai';", "export const ok = (t: string) => new OpenAI({ baseURL: '/v1', apiKey: t });",
				"export const az = (t: string) => new AzureOpenAI({ baseURL: '/v1', apiKey: t });"),
			"app/d.tsx":       useClient("import OpenAI from 'openai';", "import { register } from './registry';", "register(OpenAI);"),
			"app/e.tsx":       useClient("import 'openai/shims/web';", "export { default } from 'openai';"),
			"app/f.tsx":       useClient("import OpenAI from 'openai';", "export const unused = 1;"),
			"app/registry.ts": "export const register = (x: unknown) => x;\n",
		}, want: []hit{{"app/a.tsx", 2, High, "import:@ai-sdk/openai"}, {"app/b.tsx", 2, High, "import:openai"},
			{"app/c.tsx", 2, High, "import:openai"}, {"app/d.tsx", 2, High, "import:openai"}, {"app/e.tsx", 2, High, "import:openai"},
			{"app/f.tsx", 2, High, "import:openai"}}},
		// The raw fetch check is unchanged by a safe client next to it.
		{name: "raw fetch to a provider next to a safe client", files: map[string]string{
			"app/a.tsx": useClient("import OpenAI from 'openai';", "export const ok = (t: string) => new OpenAI({ baseURL: '/v1', apiKey: t, dangerouslyAllowBrowser: true });",
				"export const raw = (t: string) => fetch('https://api.openai.com/v1/models', { headers: { Authorization: `Bearer ${t}` } });"),
		}, want: []hit{{"app/a.tsx", 4, High, "host:api.openai.com"}}},
		// SDKs whose clients the audit does not read are findings as before.
		{name: "SDK the audit does not read", files: map[string]string{
			"app/a.tsx": useClient("import { GoogleGenAI } from '@google/genai';", "export const ai = (t: string) => new GoogleGenAI({ apiKey: t, httpOptions: { baseUrl: '/g' } });"),
		}, want: []hit{{"app/a.tsx", 2, High, "import:@google/genai"}}},
	})
}

// TestClientProviderAccessKeyMessages: a client pointed at a gateway but
// holding a key says which option holds it, and never shows a key.
func TestClientProviderAccessKeyMessages(t *testing.T) {
	key := fakeOpenAIKey(32)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"package.json": nextPkg,
		"app/env.tsx": useClient("import OpenAI from 'openai';",
			"export const ai = () => new OpenAI({ baseURL: '/v1', apiKey: process.env.NEXT_PUBLIC_OPENAI_API_KEY, dangerouslyAllowBrowser: true });"),
		"app/literal.tsx": useClient("import Anthropic from '@anthropic-ai/sdk';",
			"export const ai = () => new Anthropic({ baseURL: '/k', authToken: '"+key+"', dangerouslyAllowBrowser: true });"),
	})
	res := auditDir(t, dir, Options{})
	want := map[string][]string{
		"app/env.tsx " + CheckClientProviderAccess:     {"its client calls a gateway, but its apiKey reads NEXT_PUBLIC_OPENAI_API_KEY", "which the build inlines into the browser bundle"},
		"app/env.tsx " + CheckDangerouslyAllow:         {"with a custom baseURL, but its apiKey reads NEXT_PUBLIC_OPENAI_API_KEY"},
		"app/literal.tsx " + CheckClientProviderAccess: {"its client calls a gateway, but its authToken is a key-shaped string literal"},
		"app/literal.tsx " + CheckDangerouslyAllow:     {"but its authToken is a key-shaped string literal"},
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Message, key) {
			t.Errorf("%s %s: message shows the key", f.Path, f.CheckID)
		}
		k := f.Path + " " + f.CheckID
		subs, ok := want[k]
		if !ok {
			continue
		}
		delete(want, k)
		if f.Severity != High {
			t.Errorf("%s: severity %s, want high", k, f.Severity)
		}
		for _, s := range subs {
			if !strings.Contains(f.Message, s) {
				t.Errorf("%s: message %q lacks %q", k, f.Message, s)
			}
		}
	}
	for k := range want {
		t.Errorf("no %s finding", k)
	}
}
