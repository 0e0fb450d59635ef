package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// statsd.tcp_tls serves listen.tls's certificate, so it needs one; statsd_client_auth is
// checked as the other client_auth keys are, and alone asks for client certificates.
func TestStatsdTLSKeys(t *testing.T) {
	cfg, err := Load(strings.NewReader("listen:\n  tls:\n    cert_file: c.pem\n    key_file: k.pem\n" +
		"    client_ca_file: ca.pem\n    statsd_client_auth: require\nstatsd:\n  tcp_tls: true\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate(), "client_auth none elsewhere: statsd_client_auth alone uses the CA file")

	cfg.Listen.TLS.StatsdClientAuth = "maybe"
	require.ErrorContains(t, cfg.Validate(), `listen.tls.statsd_client_auth: "maybe": want none, request or require`)

	c := Default()
	c.Statsd.TCPTLS = true
	require.ErrorContains(t, c.Validate(), "statsd.tcp_tls: true: needs listen.tls.cert_file and key_file")
	c.Statsd.TCPAddr = "" // no TCP listener: nothing to serve TLS on
	require.NoError(t, c.Validate())
}
