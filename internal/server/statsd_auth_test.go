package server

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/config"
)

// StatsD listeners beyond loopback: tokens cannot protect them, so with authentication on
// they still need TCP with client certificates required (and UDP off or on loopback), or
// listen.insecure; with it off they need one or the other as every port does.
func TestSetupAuthStatsd(t *testing.T) {
	withToken := t.TempDir()
	_, _, err := auth.Create(auth.Default().TokensPath(withToken), "x", []auth.Scope{auth.ScopeIngest}, time.Now())
	require.NoError(t, err)
	mtls := func(c *config.Config) {
		c.Listen.TLS = config.TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", ClientCAFile: "ca.pem", ClientAuth: "none", StatsdClientAuth: "require"}
		c.Statsd.TCPTLS = true
	}
	for _, c := range []struct {
		name    string
		dataDir string
		mutate  func(*config.Config)
		wantErr string
	}{
		{"loopback", withToken, func(*config.Config) {}, ""},
		{"udp beyond loopback with auth", withToken, func(c *config.Config) { c.Statsd.UDPAddr = "0.0.0.0:8125" },
			"refusing to listen for StatsD on udp 0.0.0.0:8125 (beyond loopback)"},
		{"plain tcp beyond loopback with auth", withToken, func(c *config.Config) { c.Statsd.TCPAddr = ":8125" },
			"refusing to listen for StatsD on tcp :8125"},
		{"tls tcp without client certificates", withToken, func(c *config.Config) {
			mtls(c)
			c.Listen.TLS.StatsdClientAuth = "request"
			c.Statsd.TCPAddr = "0.0.0.0:8125"
		}, "refusing to listen for StatsD on tcp 0.0.0.0:8125"},
		{"tcp with client certificates required", withToken, func(c *config.Config) {
			mtls(c)
			c.Statsd.TCPAddr = "0.0.0.0:8125"
		}, ""},
		{"client_auth require applies when statsd_client_auth is empty", t.TempDir(), func(c *config.Config) {
			mtls(c)
			c.Listen.TLS.ClientAuth, c.Listen.TLS.StatsdClientAuth = "require", ""
			c.Statsd.TCPAddr = "0.0.0.0:8125"
		}, ""},
		{"udp beyond loopback, insecure", withToken, func(c *config.Config) {
			c.Statsd.UDPAddr = "0.0.0.0:8125"
			c.Listen.Insecure = true
		}, ""},
		{"udp beyond loopback without auth", t.TempDir(), func(c *config.Config) { c.Statsd.UDPAddr = "0.0.0.0:8125" },
			"refusing to listen for StatsD on udp 0.0.0.0:8125"},
		{"http beyond loopback without auth names the http port", t.TempDir(), func(c *config.Config) {
			c.Listen.HTTP = "0.0.0.0:7070"
			c.Statsd.UDPAddr = "0.0.0.0:8125"
		}, "refusing to listen on 0.0.0.0:7070 (beyond loopback) without authentication: create a token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = c.dataDir
			c.mutate(&cfg)
			s := New(cfg, nil, slog.New(slog.DiscardHandler))
			err := s.setupAuth()
			if c.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.wantErr)
			require.ErrorContains(t, err, "--insecure-listen")
		})
	}
}
