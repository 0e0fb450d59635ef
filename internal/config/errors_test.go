package config

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestErrorsSection(t *testing.T) {
	c, err := Load(strings.NewReader("retention: {errors: 90d}\nerrors: {scrub_keys: [ssn], keep_client_ip: true, scrubbing: false}\n"))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"ssn"}, c.Errors.ScrubKeys)
	require.True(t, c.Errors.KeepClientIP)
	require.False(t, c.Errors.Scrubbing)
	require.Equal(t, model.Duration(90*24*time.Hour), c.Retention.Errors)

	c = Default()
	c.Retention.Errors = 0
	require.ErrorContains(t, c.Validate(), "retention.errors")
	c = Default()
	c.Errors.ScrubKeys = []string{" "}
	require.ErrorContains(t, c.Validate(), "errors.scrub_keys[0]")
}
