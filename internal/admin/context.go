package admin

import (
	"context"
	"net/http"
)

func contextWith(r *http.Request, actor string) context.Context {
	return context.WithValue(r.Context(), actorKey{}, actor)
}

// actorOf names the admin key that made a request, for the audit log.
func actorOf(r *http.Request) string {
	a, _ := r.Context().Value(actorKey{}).(string)
	return a
}
