package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTLSKeys(t *testing.T) {
	require.False(t, Default().Listen.TLS.Enabled())
	cfg, err := Load(strings.NewReader("listen:\n  tls:\n    cert_file: tls/loupe.pem\n    key_file: /etc/loupe/key.pem\n" +
		"    client_ca_file: ca.pem\n    client_auth: require\n    http_client_auth: none\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.True(t, cfg.Listen.TLS.Enabled())
	require.Equal(t, "https://127.0.0.1:7070/", cfg.AlertingURL().String(), "alert links use https when the port serves TLS")
	cfg.Scrape.Dir = "/srv/loupe" // as the loader sets it for a file
	cert, key, ca := cfg.TLSFiles()
	require.Equal(t, []string{"/srv/loupe/tls/loupe.pem", "/etc/loupe/key.pem", "/srv/loupe/ca.pem"}, []string{cert, key, ca})
	cert, key, ca = Default().TLSFiles()
	require.Equal(t, []string{"", "", ""}, []string{cert, key, ca})

	f := func(mutate func(*TLSConfig), want string) {
		t.Helper()
		c := Default()
		c.Listen.TLS = TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", ClientAuth: "none"}
		mutate(&c.Listen.TLS)
		require.ErrorContains(t, c.Validate(), want)
	}
	f(func(t *TLSConfig) { t.KeyFile = "" }, `listen.tls: cert_file "c.pem", key_file "": set both or neither`)
	f(func(t *TLSConfig) { t.ClientAuth = "optional" }, `listen.tls.client_auth: "optional": want none, request or require`)
	f(func(t *TLSConfig) { t.HTTPClientAuth = "yes" }, `listen.tls.http_client_auth: "yes"`)
	f(func(t *TLSConfig) { t.ClientAuth = "require" }, `listen.tls.client_ca_file: "": client_auth request or require needs`)
	f(func(t *TLSConfig) { t.ClientCAFile = "ca.pem" }, `listen.tls.client_ca_file: "ca.pem": set, but client_auth is none`)
	f(func(t *TLSConfig) { *t = TLSConfig{ClientAuth: "request", ClientCAFile: "ca.pem"} }, "listen.tls: client certificates need TLS")

	c := Default()
	c.Listen = ListenConfig{HTTP: "127.0.0.1:0"} // as tests build it: no client_auth is none
	require.NoError(t, c.Validate())
}
