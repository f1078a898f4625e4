package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// evilUpstream is a fake provider that echoes the credential it received
// everywhere it can: error bodies, response headers, 1xx responses, stream
// events and stream errors. The target model name picks its behaviour.
func evilUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key") + r.Header.Get("Api-Key") + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Model string `json:"model"`
		}
		_ = json.Unmarshal(body, &req)
		anthropic := strings.HasSuffix(r.URL.Path, "/messages") || strings.HasSuffix(r.URL.Path, "/count_tokens")
		echoHeaders := func() {
			h := w.Header()
			h.Set("X-Request-Id", key)
			h.Set("Request-Id", key)
			h.Set("X-Echo-Key", key)
			h.Set("Set-Cookie", "session="+key)
			h.Set("WWW-Authenticate", "Bearer "+key)
			h.Set("Location", "https://evil.test/?key="+key)
			h.Set("X-Ratelimit-Remaining-Requests", "1")
			h.Set("Openai-Organization", "org-"+key)
		}
		errBody := func(status int) string {
			if anthropic {
				return fmt.Sprintf(`{"type":"error","error":{"type":"invalid_request_error","message":"bad key %s"},"request_id":%q}`, key, key)
			}
			return fmt.Sprintf(`{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","code":%q,"param":"messages"}}`, key, key)
		}
		switch {
		case strings.HasPrefix(req.Model, "status-"):
			status, _ := strconv.Atoi(strings.TrimPrefix(req.Model, "status-"))
			echoHeaders()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			io.WriteString(w, errBody(status))
		case req.Model == "hints":
			w.Header().Set("Link", "<https://evil.test/"+key+">; rel=preload")
			w.Header().Set("X-Echo-Key", key)
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Trailer", "X-Trailer-Key")
			io.WriteString(w, okBody(r.URL.Path, key))
			w.Header().Set("X-Trailer-Key", key)
		case req.Model == "timeout":
			<-r.Context().Done()
		case req.Model == "bad-ctype":
			echoHeaders()
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>"+key+"</html>")
		case strings.HasPrefix(req.Model, "stream"):
			echoHeaders()
			w.Header().Set("Content-Type", "text/event-stream")
			fl := w.(http.Flusher)
			kind := "chat"
			switch {
			case anthropic:
				kind = "messages"
			case strings.HasSuffix(r.URL.Path, "/responses"):
				kind = "responses"
			}
			events := streamEvents(kind, key)
			if req.Model == "stream-first-error" {
				io.WriteString(w, streamError(kind, key))
				return
			}
			for i, e := range events {
				if req.Model == "stream-error" && i == 2 {
					io.WriteString(w, streamError(kind, key))
					fl.Flush()
					return
				}
				if req.Model == "stream-hang" && i == 2 {
					fl.Flush()
					<-r.Context().Done()
					return
				}
				io.WriteString(w, e)
				fl.Flush()
				if req.Model == "stream-slow" {
					select {
					case <-time.After(20 * time.Millisecond):
					case <-r.Context().Done():
						return
					}
				}
			}
		default:
			echoHeaders()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, okBody(r.URL.Path, key))
		}
	})
}

// okBody is a success body that (maliciously) contains the key.
func okBody(path, key string) string {
	switch {
	case strings.HasSuffix(path, "/count_tokens"):
		return `{"input_tokens":3,"echo":"` + key + `"}`
	case strings.HasSuffix(path, "/messages"):
		return `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi ` + key + `"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}`
	case strings.HasSuffix(path, "/embeddings"):
		return `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1},"echo":"` + key + `"}`
	case strings.HasSuffix(path, "/responses"):
		return `{"id":"resp_1","object":"response","status":"completed","model":"m","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi ` + key + `"}]}],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`
	}
	return `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi ` + key + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
}

func streamEvents(kind, key string) []string {
	switch kind {
	case "messages":
		return []string{
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi " + key + "\"}}\n\n",
			"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		}
	case "responses":
		return []string{
			"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n",
			"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"hi\"}\n\n",
			"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"delta\":\"" + key + "\"}\n\n",
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2,\"total_tokens\":5}}}\n\n",
		}
	}
	return []string{
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
		": keep-alive\n\n",
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi " + key + "\"}}]}\n\n",
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
		"data: [DONE]\n\n",
	}
}

func streamError(kind, key string) string {
	switch kind {
	case "messages":
		return "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"key " + key + "\"}}\n\n"
	case "responses":
		return "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"key " + key + "\",\"param\":null}\n\n"
	}
	return "data: {\"error\":{\"message\":\"key " + key + "\",\"type\":\"server_error\",\"code\":\"" + key + "\"}}\n\n"
}
