package server

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
)

// redisCallError marks a failure of a Redis call that is not a Redis reply (a refused or reset
// connection, a timeout, a closed client), so that DependencyOf names Redis rather than "the
// network" and the dependency-error metric counts it under kind="redis". It wraps the original
// error: errors.Is and errors.As still see it.
type redisCallError struct{ err error }

func (e *redisCallError) Error() string { return "redis: " + e.err.Error() }
func (e *redisCallError) Unwrap() error { return e.err }

// markRedis wraps err in a redisCallError unless it is nil, redis.Nil (no such key) or a reply
// from the server (redis.Error: kept as it is, go-redis and our code inspect those).
func markRedis(err error) error {
	var reply redis.Error
	if err == nil || errors.Is(err, redis.Nil) || errors.As(err, &reply) {
		return err
	}
	var marked *redisCallError
	if errors.As(err, &marked) {
		return err
	}
	return &redisCallError{err}
}

// redisErrorHook is the go-redis hook that marks failed calls (markRedis), on single commands,
// pipelines and dials alike.
type redisErrorHook struct{}

// DialHook marks a failed dial.
func (redisErrorHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		return conn, markRedis(err)
	}
}

// ProcessHook marks a failed command (Process stores the returned error in the command).
func (redisErrorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return markRedis(next(ctx, cmd))
	}
}

// ProcessPipelineHook marks the failed commands of a pipeline and its error.
func (redisErrorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cerr := cmd.Err(); cerr != nil {
				if m := markRedis(cerr); m != cerr {
					cmd.SetErr(m)
				}
			}
		}
		return markRedis(err)
	}
}
