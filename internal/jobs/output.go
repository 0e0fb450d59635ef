package jobs

import (
	"bytes"
	"io"
	"sync/atomic"
	"time"
)

// Line is one line of the child's output, without its newline. Body is at most the line cap;
// Size is the line's full length.
type Line struct {
	Stream    string // "stdout" or "stderr"
	Time      time.Time
	Body      []byte
	Size      int
	Truncated bool
}

// outputCounters are shared by the stdout and stderr copiers.
type outputCounters struct {
	stdoutBytes, stdoutLines, stderrBytes, stderrLines atomic.Int64
	truncated, dropped                                 atomic.Int64
}

func (c *outputCounters) output() Output {
	return Output{
		StdoutBytes: c.stdoutBytes.Load(), StdoutLines: c.stdoutLines.Load(),
		StderrBytes: c.stderrBytes.Load(), StderrLines: c.stderrLines.Load(),
		TruncatedLines: c.truncated.Load(), DroppedLines: c.dropped.Load(),
	}
}

// copyOutput copies src to dst unchanged, chunk by chunk as it arrives, and splits the same
// bytes into lines sent to lines without ever blocking: when lines is full the line is
// dropped and counted. Lines longer than maxLine are cut to maxLine bytes. A last line
// without a newline is still sent. When writing to dst fails (the reader went away, as in
// `loupe run -- yes | head`) copyOutput stops copying and returns, so the caller can close
// src and the child sees the broken pipe it would have seen without Loupe.
func copyOutput(dst io.Writer, src io.Reader, stream string, maxLine int, lines chan<- Line, c *outputCounters, now func() time.Time) error {
	bytesCtr, linesCtr := &c.stdoutBytes, &c.stdoutLines
	if stream == "stderr" {
		bytesCtr, linesCtr = &c.stderrBytes, &c.stderrLines
	}
	var (
		cur  []byte // the current line, up to maxLine bytes
		size int    // full length of the current line
		buf  = make([]byte, 64<<10)
	)
	emit := func() {
		linesCtr.Add(1)
		if lines == nil {
			return
		}
		l := Line{Stream: stream, Time: now(), Body: bytes.Clone(cur), Size: size, Truncated: size > len(cur)}
		if l.Truncated {
			c.truncated.Add(1)
		}
		select {
		case lines <- l:
		default:
			c.dropped.Add(1)
		}
	}
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			bytesCtr.Add(int64(n))
			if _, err := dst.Write(chunk); err != nil {
				return err
			}
			for len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n')
				part := chunk
				if i >= 0 {
					part = chunk[:i]
				}
				size += len(part)
				if room := maxLine - len(cur); room > 0 {
					cur = append(cur, part[:min(room, len(part))]...)
				}
				if i < 0 {
					break
				}
				emit()
				cur, size = cur[:0], 0
				chunk = chunk[i+1:]
			}
		}
		if rerr != nil {
			if size > 0 {
				emit()
			}
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}
