// Command dice is a reference instrumented HTTP service: GET / and GET /rolldice return a
// roll of a six-sided die. It exposes a Prometheus counter dice_rolls_total{roll_value} on
// /metrics for scraping, and sends traces, logs and runtime metrics over OTLP through the
// Loupe Go SDK.
//
//	go run ./examples/dice                      # serves on :8080, telemetry to localhost:4318
//	go run ./examples/dice/rollgen -n 100       # rolls the dice 100 times
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/loupe-dev/loupe/sdk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dice:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dice", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to serve / /rolldice and /metrics on")
	server := fs.String("server", "", "OTLP/HTTP base URL of Loupe (default: OTEL_EXPORTER_OTLP_ENDPOINT, LOUPE_SERVER, http://localhost:4318)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tel, err := sdk.Start(ctx, sdk.Options{ServiceName: "dice", ServiceVersion: "1.0.0", Endpoint: *server, Console: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "dice: telemetry shutdown:", err)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app := newApp(tel, reg)

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.routes(), ReadHeaderTimeout: 10 * time.Second}
	tel.Logger().Info("listening", "addr", l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	tel.Logger().Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app holds what the handlers need: the SDK's telemetry and the Prometheus counter.
type app struct {
	tel    *sdk.SDK
	log    *slog.Logger
	tracer trace.Tracer
	rolls  *prometheus.CounterVec
	reg    *prometheus.Registry
}

func newApp(tel *sdk.SDK, reg *prometheus.Registry) *app {
	rolls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dice_rolls_total",
		Help: "Dice rolls served, by the value rolled.",
	}, []string{"roll_value"})
	reg.MustRegister(rolls)
	for v := 1; v <= 6; v++ { // every value exists from the start, so rate() sees the first roll
		rolls.WithLabelValues(strconv.Itoa(v))
	}
	return &app{tel: tel, log: tel.Logger(), tracer: tel.Tracer("github.com/loupe-dev/loupe/examples/dice"), rolls: rolls, reg: reg}
}

func (a *app) routes() http.Handler {
	traced := func(route string, h http.HandlerFunc) http.Handler {
		return otelhttp.NewHandler(h, route,
			otelhttp.WithTracerProvider(a.tel.TracerProvider()),
			otelhttp.WithMeterProvider(a.tel.MeterProvider()),
			otelhttp.WithPropagators(a.tel.Propagator()),
			// The span is named for the route, not the mux pattern ("GET /{$}").
			otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return route }))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", traced("GET /", a.rollDice))
	mux.Handle("GET /rolldice", traced("GET /rolldice", a.rollDice))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	return mux
}

// rollDice answers with a roll from 1 to 6. ?player=NAME names the player in the log.
func (a *app) rollDice(w http.ResponseWriter, r *http.Request) {
	ctx, span := a.tracer.Start(r.Context(), "roll")
	roll := 1 + rand.IntN(6)
	span.SetAttributes(attribute.Int("roll.value", roll))
	span.End()

	a.rolls.WithLabelValues(strconv.Itoa(roll)).Inc()
	if player := r.URL.Query().Get("player"); player != "" {
		a.log.InfoContext(ctx, "player rolled the dice", "player", player, "roll.value", roll)
	} else {
		a.log.InfoContext(ctx, "anonymous player rolled the dice", "roll.value", roll)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, roll)
}
