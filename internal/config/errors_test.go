package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorsSection(t *testing.T) {
	c, err := Load(strings.NewReader("errors: {retention: 90d, scrub_keys: [ssn], keep_client_ip: true, scrubbing: false}\n"))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"ssn"}, c.Errors.ScrubKeys)
	require.True(t, c.Errors.KeepClientIP)
	require.False(t, c.Errors.Scrubbing)

	c = Default()
	c.Errors.Retention = 0
	require.ErrorContains(t, c.Validate(), "errors.retention")
	c = Default()
	c.Errors.ScrubKeys = []string{" "}
	require.ErrorContains(t, c.Validate(), "errors.scrub_keys[0]")
}
