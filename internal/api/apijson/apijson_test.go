package apijson

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

var errMine = errors.New("mine")

func TestHandler(t *testing.T) {
	classify := func(err error) *Error {
		if errors.Is(err, errMine) {
			return &Error{Status: http.StatusConflict, Type: "conflict", Err: err}
		}
		return nil
	}
	for _, c := range []struct {
		f          func(w http.ResponseWriter, r *http.Request) error
		status     int
		typ, error string
	}{
		{func(w http.ResponseWriter, r *http.Request) error { OK(w, 1); return nil }, 200, "", ""},
		{func(http.ResponseWriter, *http.Request) error { return BadData(errors.New("x: bad")) }, 400, "bad_data", "x: bad"},
		{func(http.ResponseWriter, *http.Request) error { return &Error{Status: 404, Err: errors.New("gone")} }, 404, "bad_data", "gone"},
		{func(http.ResponseWriter, *http.Request) error { return errMine }, 409, "conflict", "mine"},
		{func(http.ResponseWriter, *http.Request) error { return context.Canceled }, StatusClientClosedRequest, "canceled", "context canceled"},
		{func(http.ResponseWriter, *http.Request) error { return errors.New("disk") }, 500, "internal", "disk"},
		{func(http.ResponseWriter, *http.Request) error { panic("boom") }, 500, "internal", "internal error (logged on the server)"},
	} {
		rec := httptest.NewRecorder()
		Handler(discard(), "test API", classify, c.f).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		require.Equal(t, c.status, rec.Code)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var env Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
		if c.status == 200 {
			require.Equal(t, Envelope{Status: "success", Data: 1.0}, env)
			continue
		}
		require.Equal(t, Envelope{Status: "error", ErrorType: c.typ, Error: c.error}, env)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
