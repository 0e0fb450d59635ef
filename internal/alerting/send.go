package alerting

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/rules"
)

// Sender receives the alerts of the rule manager, as Prometheus' notifier.Manager does.
type Sender interface {
	Send(alerts ...*notifier.Alert)
}

// NotifyFunc returns the rule manager's notify hook: the alerts are converted as Prometheus
// does (rules.SendAlerts: generatorURL to the expression under externalURL, endsAt the
// resolution time or the alert's validity) and handed to every sender.
func NotifyFunc(externalURL string, senders ...Sender) rules.NotifyFunc {
	fan := fanOut(senders)
	return rules.SendAlerts(fan, strings.TrimSuffix(externalURL, "/"))
}

type fanOut []Sender

func (f fanOut) Send(alerts ...*notifier.Alert) {
	for _, s := range f {
		s.Send(alerts...)
	}
}

// Send implements Sender: alerts go to the dispatcher as if posted to /api/v2/alerts.
// Invalid alerts are dropped and logged, as the API refuses them.
func (am *Alertmanager) Send(alerts ...*notifier.Alert) {
	now := time.Now()
	am.mu.Lock()
	resolveTimeout := time.Duration(am.conf.Global.ResolveTimeout)
	am.mu.Unlock()
	out := make([]*types.Alert, 0, len(alerts))
	var errs []error
	for _, a := range alerts {
		ta := convert(a, now, resolveTimeout)
		if err := ta.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("alert %s: %w", ta.Labels, err))
			continue
		}
		out = append(out, ta)
	}
	if err := am.Put(out...); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		am.logger.Warn("alerts not accepted by the embedded alertmanager", "err", errors.Join(errs...))
	}
}

// convert turns a Prometheus notifier alert into Alertmanager's, as Alertmanager's API does
// with a posted alert (UpdatedAt now; without EndsAt it resolves after resolve_timeout).
func convert(a *notifier.Alert, now time.Time, resolveTimeout time.Duration) *types.Alert {
	ls := make(model.LabelSet, a.Labels.Len())
	a.Labels.Range(func(l labels.Label) { ls[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	ann := make(model.LabelSet, a.Annotations.Len())
	a.Annotations.Range(func(l labels.Label) { ann[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	ta := &types.Alert{
		Alert: model.Alert{
			Labels:       ls,
			Annotations:  ann,
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
		},
		UpdatedAt: now,
	}
	if ta.StartsAt.IsZero() {
		ta.StartsAt = now
	}
	if ta.EndsAt.IsZero() {
		ta.Timeout = true
		ta.EndsAt = now.Add(resolveTimeout)
	}
	return ta
}
