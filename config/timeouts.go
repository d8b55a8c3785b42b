package config

import "time"

// Default dependency deadlines (issue 11: a frozen dependency answers 503 within the deadline).
const (
	// DefaultDBTimeout bounds the PostgreSQL work of one request and each new connection.
	DefaultDBTimeout = 5 * time.Second
	// DefaultRedisTimeout bounds each Redis call (dial, read, write, wait for a pooled connection).
	DefaultRedisTimeout = 1 * time.Second
)
