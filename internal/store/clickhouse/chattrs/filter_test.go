package chattrs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

func TestCond(t *testing.T) {
	hint := func(k, v string) string { return "hint(" + k + ", " + v + ")" }
	lookup := "if(mapContains(attributes, 'k'), attributes['k'], resource['k'])"
	for _, c := range []struct {
		f    store.AttrFilter
		want string
	}{
		{store.AttrFilter{Key: "k", Op: store.MatchEqual, Value: "v"}, "hint('k', 'v') AND " + lookup + " = 'v'"},
		{store.AttrFilter{Key: "k", Op: store.MatchEqual}, lookup + " = ''"},
		{store.AttrFilter{Key: "service.name", Op: store.MatchEqual, Value: "api"}, "service = 'api'"},
		{store.AttrFilter{Key: "k", Op: store.MatchNotEqual, Value: "v"}, lookup + " != 'v'"},
		{store.AttrFilter{Key: "k", Op: store.MatchNotRegexp, Value: "a.*"}, "NOT match(" + lookup + ", '^(?:a.*)$')"},
	} {
		got, err := Cond(c.f, hint)
		require.NoError(t, err)
		require.Equal(t, c.want, got)
	}
	_, err := Cond(store.AttrFilter{Op: store.MatchEqual}, hint)
	require.ErrorContains(t, err, "empty key")
	_, err = Cond(store.AttrFilter{Key: "k", Op: store.MatchRegexp, Value: "("}, hint)
	require.ErrorContains(t, err, "bad regexp")
}
