package labellimit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	l := Limits{Labels: 3, NameBytes: 8, ValueBytes: 5}
	f := func(want string, kv ...string) {
		t.Helper()
		err := l.Check(labels.FromStrings(kv...))
		if want == "" {
			require.NoError(t, err)
			return
		}
		var le *Error
		require.ErrorAs(t, err, &le)
		require.Equal(t, want, le.Reason, err.Error())
		require.ErrorIs(t, err, storage.ErrOutOfBounds)
	}
	f("", "__name__", "m", "a", "v")
	f(ReasonTooManyLabels, "__name__", "m", "a", "1", "b", "2", "c", "3")
	f(ReasonLabelNameTooLong, "__name__", "m", "abcdefghi", "1")
	f(ReasonLabelValueTooLong, "__name__", "m", "a", "123456")
	require.NoError(t, Limits{}.Check(labels.FromStrings("x", strings.Repeat("v", 1<<20))))
}

// recordingAppender counts the appends that reach it.
type recordingAppender struct {
	storage.Appender
	n int
}

func (a *recordingAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	a.n++
	return storage.SeriesRef(a.n), nil
}

type appendableFunc func(context.Context) storage.Appender

func (f appendableFunc) Appender(ctx context.Context) storage.Appender { return f(ctx) }

func TestAppendable(t *testing.T) {
	rec := &recordingAppender{}
	var reasons []string
	app := Limits{Labels: 2}.Appendable(appendableFunc(func(context.Context) storage.Appender { return rec }),
		func(r string) { reasons = append(reasons, r) }).Appender(context.Background())
	_, err := app.Append(0, labels.FromStrings("__name__", "m", "a", "1", "b", "2"), 1, 1)
	require.True(t, errors.Is(err, storage.ErrOutOfBounds))
	ref, err := app.Append(0, labels.FromStrings("__name__", "m"), 1, 1)
	require.NoError(t, err)
	// A reference from the storage means the labels were checked already.
	_, err = app.Append(ref, labels.FromStrings("__name__", "m", "a", "1", "b", "2"), 2, 1)
	require.NoError(t, err)
	require.Equal(t, 2, rec.n)
	require.Equal(t, []string{ReasonTooManyLabels}, reasons)
}
