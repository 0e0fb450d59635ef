package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The first example of docs/configuration.md: `--retention` sets the retention of every
// signal, and an invalid configuration stops the server with one line per bad key.
func TestServeInvalidConfigDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```\n\\$ loupe (serve [^\n]*)\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/configuration.md has no `$ loupe serve ...` example")

	var out, errOut bytes.Buffer
	err = Run(context.Background(), strings.Fields(string(m[1])), &out, &errOut)
	require.Error(t, err)
	require.Equal(t, string(m[2]), "loupe: "+err.Error()+"\n")
}
