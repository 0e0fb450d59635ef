// Package loadgen generates realistic, seed-deterministic synthetic telemetry (logs, traces,
// metric series) and sends it to an ingest endpoint over OTLP, remote write or Loki push.
package loadgen

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
)

// A Batch is one encoded request body ready to send, with the number of items it carries
// (log records, spans or samples). Shard keeps batches of one shard in order: the runner
// sends every batch of a shard from the same worker, one after another (remote write needs
// each series' samples in time order).
type Batch struct {
	Body  []byte
	Items int
	Shard int
	// Raw is the uncompressed OTLP protobuf of the same items when Body is compressed
	// differently (remote write, Loki); nil when Body is already OTLP protobuf.
	Raw []byte
	// Query and ContentType, when set, are the request's URL query and Content-Type
	// (Pyroscope's /ingest takes the profile's name and time in the query, and
	// pyroscope-go's multipart form has a boundary per request).
	Query       string
	ContentType string
}

// service is one synthetic service: its hosts, operations and downstream calls.
type service struct {
	name       string
	version    string
	hosts      []string
	routes     []string
	downstream []string
	db         string // database system it talks to, or ""
}

// world is the fixed landscape every generator draws from: services, hosts, value pools.
type world struct {
	services []service
	byName   map[string]int
	regions  []string
	methods  []string
	threads  []string
	tables   []string
	paths    []string
}

func newWorld() *world {
	w := &world{
		regions: []string{"eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"},
		methods: []string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"},
		tables:  []string{"orders", "users", "payments", "carts", "inventory", "sessions", "shipments"},
		paths: []string{"/var/lib/app/cache", "/tmp/uploads", "/srv/data/exports", "/etc/app/conf.d",
			"/var/log/app", "/opt/models"},
	}
	for i := range 32 {
		w.threads = append(w.threads, fmt.Sprintf("worker-%d", i))
	}
	defs := []struct {
		name, db   string
		routes     []string
		downstream []string
	}{
		{"frontend", "", []string{"/", "/products", "/products/{id}", "/cart", "/checkout", "/login", "/search"}, []string{"cart", "search", "checkout", "auth", "recommendation"}},
		{"checkout", "postgresql", []string{"/api/checkout", "/api/checkout/{id}", "/api/orders"}, []string{"payment", "cart", "inventory", "shipping", "email"}},
		{"payment", "postgresql", []string{"/api/payments", "/api/payments/{id}/capture", "/api/refunds"}, []string{"fraud"}},
		{"cart", "redis", []string{"/api/cart", "/api/cart/items", "/api/cart/{id}"}, []string{"inventory"}},
		{"inventory", "postgresql", []string{"/api/stock/{sku}", "/api/stock/reserve", "/api/warehouses"}, nil},
		{"auth", "redis", []string{"/api/login", "/api/token", "/api/session/{id}"}, nil},
		{"search", "elasticsearch", []string{"/api/search", "/api/suggest"}, []string{"recommendation"}},
		{"shipping", "postgresql", []string{"/api/shipments", "/api/quote"}, nil},
		{"email", "", []string{"/api/send"}, nil},
		{"recommendation", "redis", []string{"/api/recommendations/{user}"}, nil},
		{"fraud", "", []string{"/api/score"}, nil},
	}
	w.byName = map[string]int{}
	host := 0
	for i, d := range defs {
		s := service{name: d.name, version: fmt.Sprintf("1.%d.%d", i%4, (i*7)%10), routes: d.routes,
			downstream: d.downstream, db: d.db}
		for range 2 + i%3 {
			host++
			s.hosts = append(s.hosts, fmt.Sprintf("node-%02d", host%14+1))
		}
		w.byName[d.name] = i
		w.services = append(w.services, s)
	}
	return w
}

// rng wraps math/rand/v2 with the draws the generators need.
type rng struct{ *rand.Rand }

func newRNG(seed, stream uint64) rng { return rng{rand.New(rand.NewPCG(seed, stream))} }

func (r rng) pick(xs []string) string { return xs[r.IntN(len(xs))] }

// zipf returns an index in [0,n) skewed to small values, so a few values dominate.
func (r rng) zipf(n int) int {
	x := math.Pow(r.Float64(), 2.5)
	return int(x * float64(n))
}

// logNormal returns a positive value with the given median and spread (sigma).
func (r rng) logNormal(median, sigma float64) float64 {
	return median * math.Exp(r.NormFloat64()*sigma)
}

func (r rng) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

func (r rng) id16() [16]byte {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if b == [16]byte{} {
		b[0] = 1
	}
	return b
}

func (r rng) id8() [8]byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if b == [8]byte{} {
		b[0] = 1
	}
	return b
}

func (r rng) ip() string {
	return fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254))
}
