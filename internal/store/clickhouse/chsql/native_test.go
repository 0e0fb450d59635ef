package chsql

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The native connection cannot be tested against a server here (none is installed); these
// tests cover what fails before and at the connection.
func TestOpenNativeErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := OpenNative(ctx, "http://%zz")
	require.ErrorContains(t, err, "bad DSN")
	_, err = OpenNative(ctx, "clickhouse://host:9000/db?dial_timeout=notaduration")
	require.ErrorContains(t, err, "bad DSN")

	// A port nobody listens on: the ping fails and says where it tried.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = OpenNative(ctx, "clickhouse://"+addr+"/loupe?dial_timeout=2s")
	require.ErrorContains(t, err, addr)
}
