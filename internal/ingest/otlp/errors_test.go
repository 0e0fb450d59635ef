package otlp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

func TestErrorMapping(t *testing.T) {
	f := func(err error, httpStatus int, code codes.Code, retryAfter time.Duration) {
		t.Helper()
		res := errorResult(err, encProto)
		require.Equal(t, httpStatus, res.status, "%v", err)
		require.Equal(t, retryAfter, res.retryAfter, "%v", err)
		require.Equal(t, code, grpcStatus(err).Code(), "%v", err)
	}
	f(&decodeError{msg: "decode protobuf: bad"}, 400, codes.InvalidArgument, 0)
	f(pipeline.NewPermanent(errors.New("bad tenant")), 400, codes.InvalidArgument, 0)
	f(&pipeline.ThrottleError{Err: fmt.Errorf("%w: full", pipeline.ErrQueueFull), RetryAfter: time.Second}, 429, codes.Unavailable, time.Second)
	f(&pipeline.ThrottleError{Err: pipeline.ErrNotRunning, RetryAfter: time.Second}, 503, codes.Unavailable, time.Second)
	f(errors.New("write logs: disk full"), 503, codes.Unavailable, 0)
	f(fmt.Errorf("write logs: %w", context.DeadlineExceeded), 503, codes.DeadlineExceeded, 0)
	f(context.Canceled, 503, codes.Canceled, 0)
}
