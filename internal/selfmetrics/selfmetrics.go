// Package selfmetrics helps Loupe's parts register their own Prometheus metrics.
package selfmetrics

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the equal collector registered
// before, so that two instances of a part on one registry share their metrics. A nil reg
// registers nothing. Any other registration error is logged, and c is returned unregistered:
// a metric must never stop a part from working.
func Register[C prometheus.Collector](reg prometheus.Registerer, logger *slog.Logger, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	logger.Warn("register self-metric", "err", err)
	return c
}
