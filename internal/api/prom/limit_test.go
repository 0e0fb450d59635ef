package prom

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueryLimiter(t *testing.T) {
	l := newQueryLimiter(1)
	require.Equal(t, 1, l.GetMaxConcurrent())
	i, err := l.Insert(context.Background(), "up")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Insert(ctx, "up")
	require.ErrorIs(t, err, context.Canceled, "a full limiter waits until the context ends")

	l.Delete(i)
	_, err = l.Insert(context.Background(), "up")
	require.NoError(t, err)
}
