package nextaudit

import (
	"fmt"
	"testing"
)

// BenchmarkAudit audits a generated App Router app of 500 modules: 50
// client components, each importing a chain of 9 helpers, one of which
// imports a provider SDK.
func BenchmarkAudit(b *testing.B) {
	dir := b.TempDir()
	files := map[string]string{"package.json": nextPkg, "tsconfig.json": `{"compilerOptions":{"paths":{"@/*":["./*"]}}}`}
	for i := range 50 {
		files[fmt.Sprintf("app/c%d/page.tsx", i)] = fmt.Sprintf("'use client';\nimport { h0 } from '@/lib/m%d/h0';\n"+
			"export default function P({ x }: { x: string }) { return <div title={x}>{h0()}</div> }\n", i)
		for j := range 9 {
			next := fmt.Sprintf("import { h%d } from './h%d';\nexport const h%d = () => h%d() + %d;\n", j+1, j+1, j, j+1, j)
			if j == 8 {
				next = "import OpenAI from 'openai';\nexport const h8 = () => String(new OpenAI({ apiKey: process.env.NEXT_PUBLIC_K_TOKEN }));\n"
			}
			files[fmt.Sprintf("lib/m%d/h%d.ts", i, j)] = next
		}
	}
	writeTree(b, dir, files)
	b.ResetTimer()
	for b.Loop() {
		res := auditDir(b, dir, Options{})
		if len(res.Findings) != 100 {
			b.Fatalf("%d findings, want 100", len(res.Findings))
		}
	}
}
