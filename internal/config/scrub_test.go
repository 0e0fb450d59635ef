package config

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrubConfig(t *testing.T) {
	c, err := Load(strings.NewReader(`scrub:
  rules:
    - {name: email, regex: '[\w.+-]+@[\w-]+\.[\w.]+', action: hash}
    - {name: customer, keys: [customer.id], replacement: "[customer]"}
  hash_salt: pepper
`))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.True(t, c.Scrub.Defaults, "unset keys keep the built-in rules")
	s, err := c.Scrub.Scrubber(nil)
	require.NoError(t, err)
	require.Equal(t, "[customer]", s.String("logs", "Customer.ID", "c-1"))
	require.Regexp(t, `^to sha256:[0-9a-f]{16}$`, s.String("logs", "", "to ann@example.com"))

	c, err = Load(strings.NewReader(`scrub:
  rules:
    - {keys: [a], regex: b}
    - {name: x, regex: '(', action: mask}
    - {name: x, regex: 'a*'}
    - {name: h, keys: [k], action: hash, replacement: y}
`))
	require.NoError(t, err)
	err = c.Validate()
	for _, want := range []string{
		`scrub.rules[0].name: "": every rule needs a name`,
		`scrub.rules[0].regex: "b": give either keys or regex`,
		"scrub.rules[1].regex: \"(\": error parsing regexp",
		`scrub.rules[1].action: "mask": want replace or hash`,
		`scrub.rules[2].name: "x": used by an earlier rule`,
		`scrub.rules[2].regex: "a*": matches the empty string`,
		`scrub.rules[3].replacement: "y": not used with action "hash"`,
	} {
		require.ErrorContains(t, err, want)
	}
}

// TestScrubDocExample loads the rules that docs/security.md shows and checks that they do
// what it says.
func TestScrubDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)### Your own rules\n\n```yaml\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, block)
	c, err := Load(strings.NewReader(string(block[1])))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	s, err := c.Scrub.Scrubber(nil)
	require.NoError(t, err)
	require.Regexp(t, `^mail from sha256:[0-9a-f]{16}$`, s.String("logs", "", "mail from ann@example.com"))
	require.Equal(t, "[customer]", s.String("spans", "Customer_Name", "Ann"))
	require.Equal(t, "login password=[Filtered]", s.String("logs", "", "login password=hunter2"), "the built-in rules stay on")
}
