package statsd

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzTCPFraming streams arbitrary bytes through a TCP connection handler (line
// splitting, over-long lines, CR/LF, partial last line): it must return when the peer
// closes, without panicking.
func FuzzTCPFraming(f *testing.F) {
	f.Add([]byte("a:1|c\nb:2|g\r\n_e{1,1}:t|x\n"), 3)
	f.Add(bytes.Repeat([]byte("x"), 70<<10), 1)
	f.Add([]byte("a:1|c"), 2)
	f.Fuzz(func(t *testing.T, stream []byte, chunks int) {
		cfg := Default()
		cfg.UDPAddr, cfg.TCPAddr = "", ""
		r, err := New(cfg, discardAppendable{}, nil, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		r.readers.Add(1)
		r.metrics.tcpOpen.Inc()
		done := make(chan struct{})
		go func() { r.serveConn(server); close(done) }()
		chunks = max(1, min(chunks, 16))
		step := max(1, len(stream)/chunks)
		for len(stream) > 0 {
			n := min(step, len(stream))
			if _, err := client.Write(stream[:n]); err != nil {
				break
			}
			stream = stream[n:]
		}
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection handler did not return after the peer closed")
		}
	})
}
