package chsql

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatchWhole(t *testing.T) {
	c, err := MatchWhole("x", "a|b", false)
	require.NoError(t, err)
	require.Equal(t, `match(x, '^(?:a|b)$')`, c)
	c, err = MatchWhole("x", "it's", true)
	require.NoError(t, err)
	require.Equal(t, `NOT match(x, '^(?:it\'s)$')`, c)
	_, err = MatchWhole("x", "(", false)
	require.Error(t, err)
}
