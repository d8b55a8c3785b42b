package metrics

import (
	"context"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// PostgresPool returns a collector of the pgx pool's statistics (pgxpool.Stat, read at scrape
// time) by github.com/IBM/pgxpoolprometheus: pgxpool_acquired_conns, pgxpool_idle_conns,
// pgxpool_max_conns, pgxpool_total_conns, pgxpool_acquire_count, pgxpool_empty_acquire
// (acquires that had to wait), pgxpool_canceled_acquire_count, … each labelled db="portico".
func PostgresPool(pool *pgxpool.Pool) prometheus.Collector {
	return pgxpoolprometheus.NewCollector(pool, map[string]string{"db": "portico"})
}

// redisPool reads go-redis's pool statistics (PoolStats) at scrape time.
type redisPool struct {
	rdb                                        redis.UniversalClient
	hits, misses, timeouts, total, idle, stale *prometheus.Desc
}

// RedisPool returns a collector of the Redis client's connection-pool statistics:
// portico_redis_pool_hits_total, _misses_total, _timeouts_total (waits for a free connection
// that timed out), _stale_conns_total, and the gauges portico_redis_pool_conns (open) and
// portico_redis_pool_idle_conns.
func RedisPool(rdb redis.UniversalClient) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "redis_pool", name), help, nil, nil)
	}
	return &redisPool{rdb: rdb,
		hits:     d("hits_total", "Times a free connection was found in the Redis pool."),
		misses:   d("misses_total", "Times no free connection was found in the Redis pool (a new one was dialled or waited for)."),
		timeouts: d("timeouts_total", "Times waiting for a Redis pool connection timed out."),
		stale:    d("stale_conns_total", "Stale connections removed from the Redis pool."),
		total:    d("conns", "Open connections in the Redis pool."),
		idle:     d("idle_conns", "Idle connections in the Redis pool."),
	}
}

// Describe sends the descriptors of the Redis pool series.
func (r *redisPool) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{r.hits, r.misses, r.timeouts, r.stale, r.total, r.idle} {
		ch <- d
	}
}

// Collect reads PoolStats once and sends the series.
func (r *redisPool) Collect(ch chan<- prometheus.Metric) {
	st := r.rdb.PoolStats()
	ch <- prometheus.MustNewConstMetric(r.hits, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(r.misses, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(r.timeouts, prometheus.CounterValue, float64(st.Timeouts))
	ch <- prometheus.MustNewConstMetric(r.stale, prometheus.CounterValue, float64(st.StaleConns))
	ch <- prometheus.MustNewConstMetric(r.total, prometheus.GaugeValue, float64(st.TotalConns))
	ch <- prometheus.MustNewConstMetric(r.idle, prometheus.GaugeValue, float64(st.IdleConns))
}

// JobStates are the River job states reported by Jobs (completed jobs are left out: they are
// neither waiting nor failed, and River keeps them for a day).
var JobStates = []string{"available", "scheduled", "running", "retryable", "discarded", "cancelled", "pending"}

// jobs counts River's jobs by state at scrape time.
type jobs struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	desc    *prometheus.Desc
}

// Jobs returns a collector of the job queue (River) read from river_job at scrape time, within
// timeout: portico_jobs{state} — "available" is the queue depth (ready, waiting for a worker),
// "scheduled" and "retryable" wait for their time (retryable: failed at least once), "running",
// and "discarded" (given up after the last attempt: failed jobs) or "cancelled". A scrape
// during a PostgreSQL outage reports no portico_jobs series.
func Jobs(pool *pgxpool.Pool, timeout time.Duration) prometheus.Collector {
	return &jobs{pool: pool, timeout: timeout, desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "jobs"),
		"Background jobs (River) by state: available = queue depth, retryable = failed and waiting for a retry, discarded = failed for good.",
		[]string{"state"}, nil)}
}

// Describe sends the descriptor of portico_jobs.
func (j *jobs) Describe(ch chan<- *prometheus.Desc) { ch <- j.desc }

// Collect counts river_job rows by state (one indexed query).
func (j *jobs) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	defer cancel()
	rows, err := j.pool.Query(ctx, `SELECT state::text, count(*) FROM river_job WHERE state <> 'completed' GROUP BY state`)
	if err != nil {
		return
	}
	defer rows.Close()
	counts := make(map[string]int64, len(JobStates))
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return
		}
		counts[state] = n
	}
	if rows.Err() != nil {
		return
	}
	for _, s := range JobStates {
		ch <- prometheus.MustNewConstMetric(j.desc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
