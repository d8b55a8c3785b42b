package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves this instance's Prometheus registry (metrics.NewRegistry: the
// process-wide series, the Go runtime, and this instance's PostgreSQL pool, Redis pool and job
// queue collectors) in the exposition format.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// startMetrics listens on cfg.MetricsAddr (when set) and serves /metrics there until
// stopMetrics. It returns once the listener is open, so a bad address fails the start.
func (s *Server) startMetrics() error {
	if s.Config.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.Config.MetricsAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.MetricsHandler())
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Log.Error("metrics listener", "err", err)
		}
	}()
	s.Log.Info("metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return nil
}

// stopMetrics closes the metrics listener (after the public one: a scrape during the drain
// still sees it).
func (s *Server) stopMetrics(ctx context.Context) {
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Shutdown(ctx)
	}
}
