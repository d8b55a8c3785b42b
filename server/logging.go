package server

import (
	"context"
	"log/slog"
)

// requestIDKey is the context key under which the request id travels in a request's context
// (c.UserContext()), for code below the handlers that logs with a context.
type requestIDKey struct{}

// withRequestID returns ctx carrying the request id id.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// contextHandler adds request_id to every record logged with a request's context
// (Logger.InfoContext(ctx, …) in store, auth or provider code), so that the id is never passed
// by hand. Records logged through handlers.Log(c) already carry it and are left alone.
type contextHandler struct{ slog.Handler }

// requestScoped wraps l so that records logged with a request's context carry its request id.
func requestScoped(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(contextHandler); ok {
		return l
	}
	return slog.New(contextHandler{l.Handler()})
}

// Handle adds request_id from ctx (when there is one and the record has none) and passes the
// record on.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok && id != "" && !hasRequestID(r) {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper on derived loggers and remembers when request_id is among attrs.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "request_id" {
			return h.Handler.WithAttrs(attrs) // this logger already names its request
		}
	}
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper on grouped loggers.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

func hasRequestID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "request_id"
		return !found
	})
	return found
}
