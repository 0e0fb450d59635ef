package prom

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Prometheus' API answers a query that ran past the engine's timeout with 503,
// errorType "timeout" and "query timed out in query execution", which does not say what
// to change. timeoutEngine adds the configuration key (query.timeout) and its value to that
// error where the engine returns it, as every other read API of Loupe does
// (querylimit.Timeout). The error still wraps promql.ErrQueryTimeout, which the API maps
// to 503 "timeout".
type timeoutEngine struct {
	promql.QueryEngine
	timeout time.Duration
}

func (e timeoutEngine) NewInstantQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	qry, err := e.QueryEngine.NewInstantQuery(ctx, q, opts, qs, ts)
	if err != nil {
		return nil, err
	}
	return timeoutQuery{Query: qry, timeout: e.timeout}, nil
}

func (e timeoutEngine) NewRangeQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, interval time.Duration) (promql.Query, error) {
	qry, err := e.QueryEngine.NewRangeQuery(ctx, q, opts, qs, start, end, interval)
	if err != nil {
		return nil, err
	}
	return timeoutQuery{Query: qry, timeout: e.timeout}, nil
}

type timeoutQuery struct {
	promql.Query
	timeout time.Duration
}

func (q timeoutQuery) Exec(ctx context.Context) *promql.Result {
	res := q.Query.Exec(ctx)
	var te promql.ErrQueryTimeout
	if errors.As(res.Err, &te) {
		res.Err = fmt.Errorf("%w: the query ran longer than %s (limit query.timeout); raise query.timeout to let such queries finish", res.Err, q.timeout)
	}
	return res
}
