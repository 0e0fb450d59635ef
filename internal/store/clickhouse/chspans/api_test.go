package chspans

import "github.com/loupe-dev/loupe/internal/api/tempo"

// The Tempo API finds the tag catalogs by type assertion (tempo.TagReader), so a
// signature drift would silently turn them off: this fails to compile instead.
var _ tempo.TagReader = (*Store)(nil)
