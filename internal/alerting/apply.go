package alerting

import (
	"fmt"
	"time"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
)

// built is what a configuration becomes before it replaces the running one.
type built struct {
	routes    *dispatch.Route
	receivers map[string][]notify.Integration
	intervals *timeinterval.Intervener
}

// build turns conf into routes, receivers and time intervals as cmd/alertmanager does on
// each reload; it changes nothing, so a failure leaves the running configuration alone.
func (am *Alertmanager) build(conf *amconfig.Config) (built, error) {
	tmpl, err := template.FromGlobs(conf.Templates)
	if err != nil {
		return built{}, fmt.Errorf("alertmanager templates: %w", err)
	}
	tmpl.ExternalURL = am.opts.ExternalURL

	routes := dispatch.NewRoute(conf.Route, nil)
	used := map[string]bool{}
	routes.Walk(func(r *dispatch.Route) { used[r.RouteOpts.Receiver] = true })
	receivers := make(map[string][]notify.Integration, len(used))
	for _, rcv := range conf.Receivers {
		if !used[rcv.Name] {
			continue // as Alertmanager: a receiver no route uses is not built
		}
		integrations, err := buildIntegrations(rcv, tmpl, am.logger)
		if err != nil {
			return built{}, fmt.Errorf("alertmanager receiver %q: %w", rcv.Name, err)
		}
		receivers[rcv.Name] = integrations
	}
	intervals := make(map[string][]timeinterval.TimeInterval, len(conf.MuteTimeIntervals)+len(conf.TimeIntervals))
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	return built{routes: routes, receivers: receivers, intervals: timeinterval.NewIntervener(intervals)}, nil
}

// apply builds conf and, when that succeeds, replaces the running dispatcher and
// inhibitor with ones for it. The caller holds am.mu.
func (am *Alertmanager) apply(conf *amconfig.Config) error {
	b, err := am.build(conf)
	if err != nil {
		return err
	}
	am.inhibitor.Stop()
	am.disp.Stop()

	inhibitor := inhibit.NewInhibitor(am.alerts, conf.InhibitRules, am.marker, am.logger)
	silencer := silence.NewSilencer(am.silences, am.marker, am.logger)
	stage := am.pipeline.New(b.receivers, func() time.Duration { return 0 }, inhibitor, silencer, b.intervals, am.marker, am.nflog, nil)
	am.api.Update(conf, func(labels model.LabelSet) {
		inhibitor.Mutes(labels)
		silencer.Mutes(labels)
	})
	timeout := func(d time.Duration) time.Duration { return max(d, notify.MinTimeout) }
	disp := dispatch.NewDispatcher(am.alerts, b.routes, stage, am.marker, timeout, nil, am.logger, am.dispM)
	b.routes.Walk(func(r *dispatch.Route) {
		if r.RouteOpts.RepeatInterval > am.opts.Retention {
			am.logger.Warn("repeat_interval is greater than the data retention period: notifications may repeat more often than expected",
				"repeat_interval", r.RouteOpts.RepeatInterval, "retention", am.opts.Retention, "route", r.Key())
		}
	})
	go disp.Run()
	go inhibitor.Run()
	am.disp, am.inhibitor, am.conf = disp, inhibitor, conf
	return nil
}
