//go:build !chdb

package chsql

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenRefusesChDBWithoutTag(t *testing.T) {
	_, err := Open(context.Background(), "chdb:///tmp/x", "loupe", "")
	require.ErrorContains(t, err, "needs a loupe built with -tags chdb")
}
