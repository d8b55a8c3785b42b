package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (issue 11, optional, off by default): with OTEL_EXPORTER_OTLP_ENDPOINT set, every
// HTTP request is a span (otelfiber, named by route pattern), with child spans for each SQL
// statement (otelpgx on the pool's query tracer: statement text, never its parameters) and each
// Redis command (redisotel, without the command's arguments, which hold session ids and keys).
// Spans are exported over OTLP/HTTP in batches; W3C trace context is read from and passed on
// in request headers.

// newTracerProvider returns the OTLP-exporting tracer provider for cfg.OTLPEndpoint and makes
// it and the W3C propagators the process's globals.
func newTracerProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("portico")))
	if err != nil {
		res = resource.Default()
	}
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil { // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp, nil
}

// tracePool sets the SQL tracer on a pool configuration (before the pool is opened).
func tracePool(cfg *pgxpool.Config, tp trace.TracerProvider) {
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithTrimSQLInSpanName())
}

// traceRedis adds the tracing hook to a Redis client.
func traceRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false))
}

// traceHTTP is the HTTP middleware: one server span per request, named by route pattern, its
// context passed down (c.UserContext) to the SQL and Redis spans. Static files are not traced.
// The span's http.target and http.url carry the path only: otelfiber records the whole request
// URI, whose query string may hold a one-time token (guest, sign-in, reset and registration
// links) and whose path may hold a rating link's token (loggedPath); the later attributes
// replace its values.
func traceHTTP(tp trace.TracerProvider) fiber.Handler {
	return otelfiber.Middleware(otelfiber.WithTracerProvider(tp),
		otelfiber.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelfiber.WithNext(func(c *fiber.Ctx) bool { return len(c.Path()) >= 8 && c.Path()[:8] == "/static/" }),
		otelfiber.WithCustomAttributes(func(c *fiber.Ctx) []attribute.KeyValue {
			path := loggedPath(strings.Clone(c.Path()))
			return []attribute.KeyValue{attribute.String("http.target", path), attribute.String("http.url", path)}
		}))
}
