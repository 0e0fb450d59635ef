package tsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// TestOpenFullDiskUnflushedWAL: the process died (kill -9) with full head chunks that were
// only in the WAL, and the disk is now full (0 bytes free). Opening must not panic: the
// TSDB would write those chunks to chunks_head (at Close, and every minute in its
// background loop) and panics when it cannot. The store must answer queries with
// everything in the WAL, refuse writes with ErrDiskFull, and take writes once space is
// freed, without a restart. Needs root for a small tmpfs.
func TestOpenFullDiskUnflushedWAL(t *testing.T) {
	mnt := mountTmpfs(t, "8m")

	// A store on the ordinary disk with 300 samples in each of 20 series: two full head
	// chunks per series that nothing has m-mapped yet. Copying the directory while the
	// store is open is what a crash leaves behind (the WAL is handed to the OS at Commit).
	src := t.TempDir()
	s, err := Open(src, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t0 := recent().Add(-10 * time.Minute)
	const series, points = 20, 300
	app := s.Appender(context.Background())
	for i := range series {
		ls := labels.FromStrings("__name__", "crashed", "i", fmt.Sprint(i))
		for j := range points {
			_, err := app.Append(0, ls, t0.Add(time.Duration(j)*time.Second).UnixMilli(), float64(j))
			require.NoError(t, err)
		}
	}
	require.NoError(t, app.Commit())
	dir := filepath.Join(mnt, "metrics")
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	require.NoError(t, s.Close())

	filler := filepath.Join(mnt, "filler")
	fillTmpfs(t, filler)

	// The reserve must fit in the 8 MiB tmpfs for writes to resume in this test.
	opts := DefaultOptions()
	opts.MinFreeBytes = 1 << 20
	s, err = openStore(dir, opts, nil, nil, storeDeps{reopenEvery: 10 * time.Millisecond})
	require.NoError(t, err, "opening on a full disk must work (read-only until space is freed)")
	closed := false
	t.Cleanup(func() {
		if !closed {
			require.NoError(t, s.Close())
		}
	})
	got := selectSeries(t, s, nameIs("crashed"))
	require.Len(t, got, series, "the WAL's samples must be queryable on a full disk")
	for k, pts := range got {
		require.Len(t, pts, points, k)
	}
	// Remote read queries the same view through its chunk querier.
	cq, err := s.ChunkQuerier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	chunked := cq.Select(context.Background(), false, nil, nameIs("crashed"))
	n := 0
	for chunked.Next() {
		n++
	}
	require.NoError(t, chunked.Err())
	require.NoError(t, cq.Close())
	require.Equal(t, series, n, "the WAL's series must be readable as chunks on a full disk")

	b := tsdbtest.NewBatch(svc)
	b.Gauge("after_full", "", nil, recent(), time.Minute, 1)
	require.ErrorIs(t, s.WriteMetrics(context.Background(), b.Metrics), ErrDiskFull)
	app = s.Appender(context.Background())
	_, err = app.Append(0, labels.FromStrings("__name__", "rw"), recent().UnixMilli(), 1)
	require.NoError(t, err)
	err = app.Commit()
	require.ErrorIs(t, err, ErrDiskFull)
	require.ErrorContains(t, err, "free disk space")

	// Space freed: the store opens for writing by itself and keeps what it had.
	require.NoError(t, os.Remove(filler))
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.WriteMetrics(context.Background(), b.Metrics)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, ErrDiskFull)
		require.True(t, time.Now().Before(deadline), "writes still refused after space was freed: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, selectSeries(t, s, nameIs("after_full")), 1)
	require.Len(t, selectSeries(t, s, nameIs("crashed")), series)

	// A clean close and reopen keeps everything.
	closed = true
	require.NoError(t, s.Close())
	s, err = Open(dir, opts, nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Len(t, selectSeries(t, s, nameIs("crashed")), series)
	require.Len(t, selectSeries(t, s, nameIs("after_full")), 1)
}

// TestOpenFullDiskCloseWithoutSpace: a store opened read-only on a full disk closes
// cleanly while the disk is still full (closing the writable TSDB would m-map the head's
// chunks and panic).
func TestOpenFullDiskCloseWithoutSpace(t *testing.T) {
	mnt := mountTmpfs(t, "8m")
	dir := filepath.Join(mnt, "metrics")
	opts := DefaultOptions()
	opts.MinFreeBytes = 1 << 20 // below the tmpfs' size, so that it opens for writing
	s, err := Open(dir, opts, nil, nil)
	require.NoError(t, err)
	app := s.Appender(context.Background())
	t0 := recent().Add(-10 * time.Minute)
	for j := range 500 {
		_, err := app.Append(0, labels.FromStrings("__name__", "x"), t0.Add(time.Duration(j)*time.Second).UnixMilli(), 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	// Keep a copy of the WAL as the crash left it, then let Close m-map and put it back.
	crashed := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(crashed, "wal"), os.DirFS(filepath.Join(dir, "wal"))))
	require.NoError(t, s.Close())
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "chunks_head")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "wal")))
	require.NoError(t, os.CopyFS(filepath.Join(dir, "wal"), os.DirFS(filepath.Join(crashed, "wal"))))
	fillTmpfs(t, filepath.Join(mnt, "filler"))

	s, err = openStore(dir, opts, nil, nil, storeDeps{reopenEvery: time.Hour})
	require.NoError(t, err)
	require.Len(t, selectSeries(t, s, nameIs("x"))[`{__name__="x"}`], 500)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}

// mountTmpfs mounts a tmpfs of the given size in a temporary directory, unmounted at the
// end of the test. The test is skipped where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// fillTmpfs writes path until the file system has no free byte left.
func fillTmpfs(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xa5}, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		require.NoError(t, err)
	}
	for _, n := range []int{4096, 1} { // the last partial pages
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				require.ErrorIs(t, err, syscall.ENOSPC)
				break
			}
		}
	}
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(filepath.Dir(path), &st))
	require.Zero(t, int64(st.Bavail)*st.Bsize, "free bytes left")
}

// TestOpenFullDiskNoRoomToReplay: when the temporary directory has no room either, the
// store still opens: queries and writes answer a disk-full error naming the problem, and
// the store opens for writing once space is back.
func TestOpenFullDiskNoRoomToReplay(t *testing.T) {
	var free atomic.Int64
	deps := storeDeps{
		free:        func(string) (int64, error) { return free.Load(), nil },
		reopenEvery: 10 * time.Millisecond,
	}
	s, err := openStore(t.TempDir(), DefaultOptions(), nil, nil, deps)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Querier(0, math.MaxInt64)
	require.ErrorIs(t, err, ErrDiskFull)
	require.ErrorContains(t, err, "free disk space")
	b := tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, recent(), time.Minute, 1)
	require.ErrorIs(t, s.WriteMetrics(context.Background(), b.Metrics), ErrDiskFull)
	require.Nil(t, s.DB())

	free.Store(DefaultMinFreeBytes)
	deadline := time.Now().Add(30 * time.Second)
	for s.WriteMetrics(context.Background(), b.Metrics) != nil {
		require.True(t, time.Now().Before(deadline), "writes still refused after space was freed")
		time.Sleep(10 * time.Millisecond)
	}
	require.Len(t, selectSeries(t, s, nameIs("g")), 1)
}
