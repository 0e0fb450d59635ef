package jobs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func collect(ch chan Line) []Line {
	var out []Line
	for {
		select {
		case l := <-ch:
			out = append(out, l)
		default:
			return out
		}
	}
}

// chunkReader returns its data in reads of at most n bytes, to split lines across reads.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(r.n, len(p), len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

func TestCopyOutputPassesBytesThroughAndSplitsLines(t *testing.T) {
	bigLine := bytes.Repeat([]byte("x"), 1<<20)
	binary := []byte{0, 1, 2, 0xff, 0xfe, '\r', '\n', 0x80}
	input := append(append(append([]byte("first\n\nthird\n"), bigLine...), '\n'), binary...) // no trailing newline
	for _, chunk := range []int{1, 7, 4096, 1 << 21} {
		var dst bytes.Buffer
		ch := make(chan Line, 100)
		var c outputCounters
		err := copyOutput(&dst, &chunkReader{data: bytes.Clone(input), n: chunk}, "stdout", 1000, ch, &c, time.Now)
		require.NoError(t, err)
		require.True(t, bytes.Equal(input, dst.Bytes()), "chunk %d: pass-through must be byte for byte", chunk)

		lines := collect(ch)
		require.Len(t, lines, 6, "chunk %d", chunk)
		require.Equal(t, "first", string(lines[0].Body))
		require.Equal(t, "", string(lines[1].Body))
		require.Equal(t, "third", string(lines[2].Body))
		require.Len(t, lines[3].Body, 1000, "a 1 MiB line is cut to the cap")
		require.Equal(t, 1<<20, lines[3].Size)
		require.True(t, lines[3].Truncated)
		require.Equal(t, []byte{0, 1, 2, 0xff, 0xfe, '\r'}, lines[4].Body)
		require.Equal(t, []byte{0x80}, lines[5].Body, "the last line without newline is kept")
		require.Equal(t, int64(len(input)), c.stdoutBytes.Load())
		require.Equal(t, int64(6), c.stdoutLines.Load())
		require.Equal(t, int64(1), c.truncated.Load())
	}
}

func TestCopyOutputDropsWhenBufferFullButPassesThrough(t *testing.T) {
	var dst bytes.Buffer
	ch := make(chan Line, 2)
	var c outputCounters
	in := "a\nb\nc\nd\ne\n"
	require.NoError(t, copyOutput(&dst, bytes.NewReader([]byte(in)), "stderr", 100, ch, &c, time.Now))
	require.Equal(t, in, dst.String())
	require.Len(t, collect(ch), 2)
	require.Equal(t, int64(3), c.dropped.Load())
	require.Equal(t, int64(5), c.stderrLines.Load())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestCopyOutputStopsWhenDestinationFails(t *testing.T) {
	var c outputCounters
	err := copyOutput(failWriter{}, bytes.NewReader([]byte("x\n")), "stdout", 10, nil, &c, time.Now)
	require.Error(t, err)
}

func FuzzCopyOutput(f *testing.F) {
	f.Add([]byte("a\nb"), 3, 2)
	f.Add([]byte{0, '\n', 0xff}, 1, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk, maxLine int) {
		chunk = 1 + abs(chunk)%64
		maxLine = 1 + abs(maxLine)%32
		var dst bytes.Buffer
		ch := make(chan Line, len(data)+1)
		var c outputCounters
		require.NoError(t, copyOutput(&dst, &chunkReader{data: bytes.Clone(data), n: chunk}, "stdout", maxLine, ch, &c, time.Now))
		require.Equal(t, string(data), dst.String())
		// The lines, joined, give back the input whenever no line was cut.
		var joined []byte
		for i, l := range collect(ch) {
			if i > 0 {
				joined = append(joined, '\n')
			}
			require.LessOrEqual(t, len(l.Body), maxLine)
			joined = append(joined, l.Body...)
		}
		if c.truncated.Load() == 0 {
			require.Equal(t, string(bytes.TrimSuffix(data, []byte("\n"))), string(joined))
		}
	})
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func TestReadProcStatOfSelf(t *testing.T) {
	st, err := readProcStat(int32(os.Getpid()))
	require.NoError(t, err)
	require.Equal(t, int32(os.Getppid()), st.ppid)
	_, err = readProcStat(-1)
	require.Error(t, err)
}
