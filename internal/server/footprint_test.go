package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const smapsSample = `00400000-009cb000 r--p 00000000 fd:00 1234 /usr/bin/loupe
Size:               5932 kB
Rss:                5932 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
009cb000-038f9000 r-xp 005cb000 fd:00 1234 /usr/bin/loupe
Rss:               31928 kB
Anonymous:             0 kB
055e3000-0565c000 r--p 051e3000 fd:00 1234 /usr/bin/loupe
Rss:                 280 kB
Anonymous:           280 kB
0565c000-05719000 rw-p 0525c000 fd:00 1234 /usr/bin/loupe
Rss:                 660 kB
Anonymous:           184 kB
29b7aec00000-29b7b0000000 rw-p 00000000 00:00 0 
Rss:                7348 kB
Anonymous:          7348 kB
7f3d38644000-7f3d3879a000 r-xp 00028000 fd:00 99 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1240 kB
Anonymous:             0 kB
7f3d38800000-7f3d38899000 r--p 00000000 fd:00 77 /tmp/old loupe (deleted)
Rss:                 612 kB
Anonymous:             0 kB
7ffc1e5f2000-7ffc1e5f6000 r--p 00000000 00:00 0                          [vvar]
Rss:                   0 kB
`

func TestParseSmaps(t *testing.T) {
	maps, err := parseSmaps(strings.NewReader(smapsSample))
	require.NoError(t, err)
	require.Len(t, maps, 8)
	require.Equal(t, mapping{start: 0x9cb000, end: 0x38f9000, perms: "r-xp", path: "/usr/bin/loupe", rssKiB: 31928}, maps[1])
	require.Equal(t, "/tmp/old loupe (deleted)", maps[6].path)

	var releasable []uint64
	for _, m := range maps {
		if m.releasable() {
			releasable = append(releasable, m.start)
		}
	}
	// The executable's read-only text and data and libc's text; not the relocated part
	// (private copies), not writable data, not the heap, not a deleted file, not [vvar].
	require.Equal(t, []uint64{0x400000, 0x9cb000, 0x7f3d38644000}, releasable)

	_, err = parseSmaps(strings.NewReader("zz-0 r--p 0 0 0\n"))
	require.ErrorContains(t, err, "bad address range")
	_, err = parseSmaps(strings.NewReader("00400000-009cb000 r--p\n"))
	require.ErrorContains(t, err, "unexpected line")
}

func TestDropCleanFilePages(t *testing.T) {
	// The test binary's own text is resident and releasable; dropping it must not break
	// the process (the code runs on) and must report what it released.
	if runtime.GOOS != "linux" {
		t.Skip("releases pages on Linux only")
	}
	dropped, err := dropCleanFilePages(true)
	require.NoError(t, err)
	require.Positive(t, dropped)
	require.Equal(t, 4, len(strings.Fields("code still runs here")))
}

func FuzzParseSmaps(f *testing.F) {
	f.Add(smapsSample)
	f.Add("")
	f.Add("0-1 r 0 0 0\nRss: x kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		maps, err := parseSmaps(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range maps {
			if m.end < m.start {
				t.Fatalf("end before start: %+v", m)
			}
			_ = m.releasable()
		}
	})
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tloupe\nVmRSS:\t   26972 kB\nRssAnon:\t   14608 kB\nRssFile:\t   12364 kB\n"
	n, err := parseStatusKiB(status, "RssFile")
	require.NoError(t, err)
	require.Equal(t, int64(12364), n)
	_, err = parseStatusKiB(status, "RssShmem")
	require.ErrorContains(t, err, "no RssShmem")
	_, err = parseStatusKiB("RssFile:\tlots kB\n", "RssFile")
	require.ErrorContains(t, err, "status RssFile")

	n, err = selfRSSFile()
	if runtime.GOOS == "linux" {
		require.NoError(t, err)
		require.Positive(t, n)
	}
}

// TestFootprintKeeper: the keeper releases the file pages again only once they have grown
// by more than its slack since the last release.
func TestFootprintKeeper(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("releases pages on Linux only")
	}
	// Each read of the file-backed RSS takes the next value sent: a send returns once the
	// keeper has finished its previous check.
	reads, quit := make(chan int64), make(chan struct{})
	k := &footprintKeeper{logger: slog.New(slog.DiscardHandler), interval: time.Millisecond, slack: 2 << 10,
		rssFile: func() (int64, error) {
			select {
			case v := <-reads:
				return v, nil
			case <-quit:
				return 0, errors.New("stopped")
			}
		}}
	require.NoError(t, k.Start(context.Background()))
	defer func() {
		close(quit)
		require.NoError(t, k.Shutdown(context.Background()))
	}()

	reads <- 10_000 // the base, after the second start-up pass
	for _, kib := range []int64{10_500, 11_000, 12_048} {
		reads <- kib // within the slack: no release
	}
	reads <- 12_049 // more than the slack: released, then RSS read again as the new base
	reads <- 9_000
	reads <- 9_100 // the next check, after the release
	require.Equal(t, int64(1), k.releases.Load())
	reads <- 11_000
	reads <- 11_048 // within the slack of the new base
	reads <- 9_100
	require.Equal(t, int64(1), k.releases.Load())
	reads <- 11_049 // the slack plus one from the new base
	reads <- 8_000
	reads <- 8_000
	require.Equal(t, int64(2), k.releases.Load())
}
