// Command rollgen generates traffic for the dice example: it rolls the dice n times and
// prints how often each value came up.
//
//	go run ./examples/dice/rollgen -n 100 -url http://localhost:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rollgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("rollgen", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "base URL of the dice service")
	n := fs.Int("n", 100, "number of rolls (0: until interrupted)")
	interval := fs.Duration("interval", 50*time.Millisecond, "pause between rolls")
	players := fs.String("players", "alice,bob,carol", "comma-separated player names, used in turn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 {
		return fmt.Errorf("-n %d: must not be negative", *n)
	}
	names := strings.Split(*players, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	client := &http.Client{Timeout: 10 * time.Second}
	counts := map[string]int{}
	for i := 0; *n == 0 || i < *n; i++ {
		if ctx.Err() != nil {
			break
		}
		u := strings.TrimRight(*base, "/") + "/rolldice?player=" + url.QueryEscape(names[i%len(names)])
		roll, err := get(ctx, client, u)
		if ctx.Err() != nil {
			break // interrupted: print what was rolled so far
		}
		if err != nil {
			return err
		}
		counts[roll]++
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
	for v := 1; v <= 6; v++ {
		fmt.Printf("%d: %d\n", v, counts[fmt.Sprint(v)])
	}
	return nil
}

func get(ctx context.Context, client *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	roll := strings.TrimSpace(string(body))
	if len(roll) != 1 || roll < "1" || roll > "6" {
		return "", fmt.Errorf("GET %s: want a roll from 1 to 6, got %.40q: is this the dice service?", u, roll)
	}
	return roll, nil
}
