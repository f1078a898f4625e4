// Package replicas owns the multi-process scale-out tests of issue #19:
// three separate processes of the keyward binary (built once from
// ./cmd/keyward, without -race) sharing the machine's PostgreSQL and
// Redis hold one key's request rate, spend cap and concurrency limit
// together, refuse a key revoked through one of them, and get back the
// concurrency slot and the spend reservation of a replica killed with
// SIGKILL mid-stream within their lease TTLs. No process may write a
// secret it was given, and no replica may log an error.
//
// It has no code outside its tests. They are skipped without PostgreSQL
// and Redis, except with CI=true (internal/pgtest, internal/redistest),
// and take about 75 s, most of it waiting out redis.spend_lease_ttl, at
// least a minute.
package replicas
