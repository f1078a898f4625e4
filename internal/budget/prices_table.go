package budget

// builtinPrices is the embedded price table, in USD per 1M tokens, from
// the providers' public price pages (standard tier, the lowest context
// tier where a provider prices long prompts higher). Operators override or
// extend it with pricing: in the configuration. Keys are lower-case model
// names as sent upstream, without snapshot dates. Reasoning marks the
// models that reason before they answer by default (OpenAI's o-series and
// GPT-5 family, Gemini 2.5 and later except Flash-Lite, Magistral,
// DeepSeek's reasoner, gpt-oss, Qwen3): their hidden reasoning is billed
// even when a client leaves after the first words. (Claude reasons only
// when a request asks for thinking, which the request says.)
var builtinPrices = map[string]Price{
	// OpenAI (developers.openai.com/api/docs/pricing and the per-model pages),
	// prompts up to 272K input tokens. GPT-5.6 and later bill cache writes.
	"gpt-6.2-astra":          {Input: 8, Output: 40, Reasoning: true},
	"gpt-6.2-sol":            {Input: 2, CachedInput: 0.10, CacheWrite: 2.50, Output: 10, Reasoning: true},
	"gpt-6.1-sol":            {Input: 2, CachedInput: 0.10, CacheWrite: 2.50, Output: 10, Reasoning: true},
	"gpt-6.1-terra":          {Input: 1, CachedInput: 0.05, CacheWrite: 1.25, Output: 5, Reasoning: true},
	"gpt-6-astra":            {Input: 10, CachedInput: 1, CacheWrite: 12.50, Output: 50, Reasoning: true},
	"gpt-6-sol":              {Input: 2, CachedInput: 0.20, CacheWrite: 2.50, Output: 10, Reasoning: true},
	"gpt-6-luna":             {Input: 0.10, CachedInput: 0.01, CacheWrite: 0.125, Output: 0.50, Reasoning: true},
	"gpt-5.6-sol":            {Input: 5, CachedInput: 0.50, CacheWrite: 6.25, Output: 30, Reasoning: true},
	"gpt-5.6":                {Input: 5, CachedInput: 0.50, CacheWrite: 6.25, Output: 30, Reasoning: true},
	"gpt-5.6-terra":          {Input: 2, CachedInput: 0.20, CacheWrite: 2.50, Output: 12, Reasoning: true},
	"gpt-5.6-luna":           {Input: 0.20, CachedInput: 0.02, CacheWrite: 0.25, Output: 1.20, Reasoning: true},
	"gpt-5.5":                {Input: 5, CachedInput: 0.50, Output: 30, Reasoning: true},
	"gpt-5.5-pro":            {Input: 30, Output: 180, Reasoning: true},
	"gpt-5.4":                {Input: 2.50, CachedInput: 0.25, Output: 15, Reasoning: true},
	"gpt-5.4-mini":           {Input: 0.75, CachedInput: 0.075, Output: 4.50, Reasoning: true},
	"gpt-5.4-nano":           {Input: 0.20, CachedInput: 0.02, Output: 1.25, Reasoning: true},
	"gpt-5.4-pro":            {Input: 30, Output: 180, Reasoning: true},
	"gpt-5.2":                {Input: 1.75, CachedInput: 0.175, Output: 14, Reasoning: true},
	"gpt-5.2-pro":            {Input: 21, Output: 168, Reasoning: true},
	"gpt-5.1":                {Input: 1.25, CachedInput: 0.125, Output: 10, Reasoning: true},
	"gpt-5":                  {Input: 1.25, CachedInput: 0.125, Output: 10, Reasoning: true},
	"gpt-5-mini":             {Input: 0.25, CachedInput: 0.025, Output: 2, Reasoning: true},
	"gpt-5-nano":             {Input: 0.05, CachedInput: 0.005, Output: 0.40, Reasoning: true},
	"gpt-5-pro":              {Input: 15, Output: 120, Reasoning: true},
	"gpt-5-chat-latest":      {Input: 1.25, CachedInput: 0.125, Output: 10},
	"gpt-4.1":                {Input: 2, CachedInput: 0.50, Output: 8},
	"gpt-4.1-mini":           {Input: 0.40, CachedInput: 0.10, Output: 1.60},
	"gpt-4.1-nano":           {Input: 0.10, CachedInput: 0.025, Output: 0.40},
	"gpt-4o":                 {Input: 2.50, CachedInput: 1.25, Output: 10},
	"gpt-4o-mini":            {Input: 0.15, CachedInput: 0.075, Output: 0.60},
	"gpt-4-turbo":            {Input: 10, Output: 30},
	"gpt-4":                  {Input: 30, Output: 60},
	"gpt-3.5-turbo":          {Input: 0.50, Output: 1.50},
	"o1":                     {Input: 15, CachedInput: 7.50, Output: 60, Reasoning: true},
	"o1-pro":                 {Input: 150, Output: 600, Reasoning: true},
	"o3":                     {Input: 2, CachedInput: 0.50, Output: 8, Reasoning: true},
	"o3-pro":                 {Input: 20, Output: 80, Reasoning: true},
	"o3-mini":                {Input: 1.10, CachedInput: 0.55, Output: 4.40, Reasoning: true},
	"o4-mini":                {Input: 1.10, CachedInput: 0.275, Output: 4.40, Reasoning: true},
	"text-embedding-3-small": {Input: 0.02},
	"text-embedding-3-large": {Input: 0.13},
	"text-embedding-ada-002": {Input: 0.10},

	// Anthropic (platform.claude.com/docs/en/about-claude/pricing): cache
	// writes at the 5-minute rate (1.25× input); cache reads at 0.1× input
	// except where the page lists less (Fable 5.1, Opus 5.5, Sonnet 5.5).
	"claude-fable-5-1":  {Input: 10, CacheWrite: 12.50, CachedInput: 0.25, Output: 50},
	"claude-fable-5":    {Input: 10, CacheWrite: 12.50, CachedInput: 1, Output: 50},
	"claude-opus-5-5":   {Input: 4, CacheWrite: 5, CachedInput: 0.20, Output: 20},
	"claude-opus-5":     {Input: 5, CacheWrite: 6.25, CachedInput: 0.50, Output: 25},
	"claude-opus-4-8":   {Input: 5, CacheWrite: 6.25, CachedInput: 0.50, Output: 25},
	"claude-opus-4-7":   {Input: 5, CacheWrite: 6.25, CachedInput: 0.50, Output: 25},
	"claude-opus-4-6":   {Input: 5, CacheWrite: 6.25, CachedInput: 0.50, Output: 25},
	"claude-sonnet-5-5": {Input: 2, CacheWrite: 2.50, CachedInput: 0.10, Output: 10},
	"claude-sonnet-5":   {Input: 2, CacheWrite: 2.50, CachedInput: 0.20, Output: 10},
	"claude-sonnet-4-6": {Input: 3, CacheWrite: 3.75, CachedInput: 0.30, Output: 15},
	// Haiku 5.5: prompts up to 100k tokens (longer prompts cost 5×).
	"claude-haiku-5-5":  {Input: 0.10, CacheWrite: 0.125, CachedInput: 0.01, Output: 0.50},
	"claude-opus-4-5":   {Input: 5, CacheWrite: 6.25, CachedInput: 0.50, Output: 25},
	"claude-opus-4-1":   {Input: 15, CacheWrite: 18.75, CachedInput: 1.50, Output: 75},
	"claude-opus-4-0":   {Input: 15, CacheWrite: 18.75, CachedInput: 1.50, Output: 75},
	"claude-opus-4":     {Input: 15, CacheWrite: 18.75, CachedInput: 1.50, Output: 75},
	"claude-sonnet-4-5": {Input: 3, CacheWrite: 3.75, CachedInput: 0.30, Output: 15},
	"claude-sonnet-4-0": {Input: 3, CacheWrite: 3.75, CachedInput: 0.30, Output: 15},
	"claude-sonnet-4":   {Input: 3, CacheWrite: 3.75, CachedInput: 0.30, Output: 15},
	"claude-3-7-sonnet": {Input: 3, CacheWrite: 3.75, CachedInput: 0.30, Output: 15},
	"claude-haiku-4-5":  {Input: 1, CacheWrite: 1.25, CachedInput: 0.10, Output: 5},
	"claude-3-5-haiku":  {Input: 0.80, CacheWrite: 1, CachedInput: 0.08, Output: 4},
	"claude-3-haiku":    {Input: 0.25, CacheWrite: 0.30, CachedInput: 0.03, Output: 1.25},

	// Google Gemini (ai.google.dev/gemini-api/docs/pricing), prompts up to
	// 200k tokens. Gemini 3.6/3.8 Flash: introductory rates through
	// 2026-12-31 ($1.50 input, $0.15 cached, $7.50 output from 2027-01-01).
	"gemini-3.8-flash":       {Input: 0.75, CachedInput: 0.075, Output: 3.75, Reasoning: true},
	"gemini-3.6-flash":       {Input: 0.75, CachedInput: 0.075, Output: 3.75, Reasoning: true},
	"gemini-3.5-flash":       {Input: 1.50, Output: 9, Reasoning: true},
	"gemini-3.5-flash-lite":  {Input: 0.30, Output: 2.50},
	"gemini-3.1-pro-preview": {Input: 2, Output: 12, Reasoning: true},
	"gemini-3-pro-preview":   {Input: 2, CachedInput: 0.20, Output: 12, Reasoning: true},
	"gemini-2.5-pro":         {Input: 1.25, CachedInput: 0.125, Output: 10, Reasoning: true},
	"gemini-2.5-flash":       {Input: 0.30, CachedInput: 0.03, Output: 2.50, Reasoning: true},
	"gemini-2.5-flash-lite":  {Input: 0.10, CachedInput: 0.01, Output: 0.40},
	"gemini-2.0-flash":       {Input: 0.10, CachedInput: 0.025, Output: 0.40},
	"gemini-2.0-flash-lite":  {Input: 0.075, Output: 0.30},
	"gemini-embedding-001":   {Input: 0.15},

	// Mistral (mistral.ai/pricing).
	"mistral-large-latest":    {Input: 0.50, Output: 1.50},
	"mistral-medium-latest":   {Input: 0.40, Output: 2},
	"mistral-small-latest":    {Input: 0.10, Output: 0.30},
	"magistral-medium-latest": {Input: 2, Output: 5, Reasoning: true},
	"magistral-small-latest":  {Input: 0.50, Output: 1.50, Reasoning: true},
	"codestral-latest":        {Input: 0.30, Output: 0.90},
	"ministral-8b-latest":     {Input: 0.10, Output: 0.10},
	"ministral-3b-latest":     {Input: 0.04, Output: 0.04},
	"open-mistral-nemo":       {Input: 0.15, Output: 0.15},
	"mistral-embed":           {Input: 0.10},

	// Groq (groq.com/pricing).
	"llama-3.3-70b-versatile":                       {Input: 0.59, Output: 0.79},
	"llama-3.1-8b-instant":                          {Input: 0.05, Output: 0.08},
	"openai/gpt-oss-120b":                           {Input: 0.15, Output: 0.60, Reasoning: true},
	"openai/gpt-oss-20b":                            {Input: 0.075, Output: 0.30, Reasoning: true},
	"meta-llama/llama-4-scout-17b-16e-instruct":     {Input: 0.11, Output: 0.34},
	"meta-llama/llama-4-maverick-17b-128e-instruct": {Input: 0.20, Output: 0.60},
	"moonshotai/kimi-k2-instruct":                   {Input: 1, Output: 3},
	"qwen/qwen3-32b":                                {Input: 0.29, Output: 0.59, Reasoning: true},

	// DeepSeek (api-docs.deepseek.com/quick_start/pricing): cache hits are
	// the cached-input price. Peak-hour rates (off-peak is half), so budgets
	// err high. The page bills the legacy deepseek-v4-flash name as
	// deepseek-flash; deepseek-chat and deepseek-reasoner (retired
	// 2026-07-24, no longer on the page) are priced the same way.
	"deepseek-flash":    {Input: 0.30, CachedInput: 0.006, Output: 1.20},
	"deepseek-v4-flash": {Input: 0.30, CachedInput: 0.006, Output: 1.20},
	"deepseek-v4-pro":   {Input: 1.32, CachedInput: 0.044, Output: 3.96},
	"deepseek-chat":     {Input: 0.30, CachedInput: 0.006, Output: 1.20},
	"deepseek-reasoner": {Input: 0.30, CachedInput: 0.006, Output: 1.20, Reasoning: true},
}
