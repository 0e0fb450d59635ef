package store

import "context"

type lowPriorityKey struct{}

// LowPriority marks ctx as the context of a query that should give way to ingest: a
// backend runs the storage work of reads made with it at a lower CPU priority than its
// writes (the embedded DuckDB store on threads with a higher nice value), so that heavy
// queries slow down before acknowledged ingest does. Writes ignore the mark.
func LowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

// IsLowPriority reports whether ctx was marked by LowPriority.
func IsLowPriority(ctx context.Context) bool {
	v, _ := ctx.Value(lowPriorityKey{}).(bool)
	return v
}
