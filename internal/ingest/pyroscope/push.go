package pyroscope

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"

	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
	"github.com/loupe-dev/loupe/internal/store"
)

// PushPath is the Connect procedure Grafana Alloy's pyroscope.write (and Pyroscope's own
// distributor clients) push to.
const PushPath = pushv1connect.PusherServicePushProcedure

// unknownService is the service_name of a pushed series without one, as OpenTelemetry
// names a service nobody named.
const unknownService = "unknown_service"

// PushHandler returns the path and handler of push.v1.PusherService (Connect, gRPC and
// gRPC-Web, as the generated code serves them). It shares the /ingest handler's limits,
// its in-flight bound and its metrics (code label: the HTTP status Connect maps to). The
// in-flight slot is taken in Push, after Connect has read the message (at most
// MaxRequestBytes): it bounds conversions and writes, not the reading of bodies, which
// /ingest refuses before reading.
func (h *Handler) PushHandler() (string, http.Handler) {
	return pushv1connect.NewPusherServiceHandler(pusher{h}, connect.WithReadMaxBytes(int(h.opts.MaxRequestBytes)))
}

type pusher struct{ h *Handler }

// Push stores every sample of every series, or nothing when one is bad.
func (p pusher) Push(ctx context.Context, req *connect.Request[pushv1.PushRequest]) (*connect.Response[pushv1.PushResponse], error) {
	h := p.h
	res, err := p.push(ctx, req.Msg)
	status := http.StatusOK
	if err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			status = connectHTTPStatus(ce.Code())
		}
		if status >= 500 {
			h.logger.Warn("pyroscope push failed", "err", err)
		}
	}
	h.requests.WithLabelValues(fmt.Sprint(status)).Inc()
	h.samples.Add(float64(res))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pushv1.PushResponse{}), nil
}

func (p pusher) push(ctx context.Context, msg *pushv1.PushRequest) (int, error) {
	h := p.h
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return 0, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%d profile uploads in progress, retry later", h.opts.MaxInFlight))
	}
	now := h.now()
	var all []store.Profile
	var bytes int64
	for i, series := range msg.GetSeries() {
		labels := map[string]string{}
		kind := pprofconv.KindUnknown
		for _, l := range series.GetLabels() {
			switch name := l.GetName(); name {
			case "__name__":
				kind = kindOfName(l.GetValue())
			default:
				if n := pprofconv.SanitizeLabelName(name); n != "" {
					labels[n] = l.GetValue()
				}
			}
		}
		if labels[pprofconv.ServiceLabel] == "" {
			labels[pprofconv.ServiceLabel] = unknownService
		}
		for j, s := range series.GetSamples() {
			bytes += int64(len(s.GetRawProfile()))
			prof, err := pprofconv.Parse(s.GetRawProfile(), h.opts.Limits)
			if err != nil {
				return 0, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("series %d sample %d: %w", i, j, err))
			}
			ps, err := pprofconv.Convert(prof, nil, pprofconv.Options{Labels: labels, Kind: kind, Time: now,
				Limits: h.opts.Limits, LabelLimits: h.opts.LabelLimits})
			if err != nil {
				return 0, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("series %d sample %d: %w", i, j, err))
			}
			all = append(all, ps...)
		}
	}
	if len(all) == 0 {
		return 0, nil
	}
	if h.opts.Tenant != nil {
		if err := h.opts.Tenant.AdmitTenant(string(store.SignalProfiles), len(all), bytes); err != nil {
			return 0, connect.NewError(connect.CodeResourceExhausted, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, h.opts.WriteTimeout)
	defer cancel()
	if err := h.w.WriteProfiles(wctx, all); err != nil {
		return 0, connect.NewError(connect.CodeUnavailable, fmt.Errorf("store profiles: %w", err))
	}
	n := 0
	for _, p := range all {
		n += len(p.Samples)
	}
	return n, nil
}

// kindOfName maps Pyroscope's __name__ (what Alloy's scrape sets) to the kind that names
// the stored type.
func kindOfName(name string) pprofconv.Kind {
	switch name {
	case "process_cpu":
		return pprofconv.KindCPU
	case "memory":
		return pprofconv.KindHeap
	case "goroutine", "goroutines":
		return pprofconv.KindGoroutine
	case "mutex":
		return pprofconv.KindMutex
	case "block":
		return pprofconv.KindBlock
	case "wall":
		return pprofconv.KindWall
	}
	return pprofconv.KindUnknown
}

// connectHTTPStatus is the HTTP status Connect answers for code, for the request counter.
func connectHTTPStatus(code connect.Code) int {
	switch code {
	case connect.CodeInvalidArgument:
		return http.StatusBadRequest
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}
