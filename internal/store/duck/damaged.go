package duck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// damagedMarkers are the texts of DuckDB's errors for a database file that was cut short,
// overwritten or is not a DuckDB file at all.
var damagedMarkers = []string{
	"Corrupt database file",
	"Could not read enough bytes",
	"not a valid DuckDB database file",
	"checksum",
}

// explainOpenError adds what to do to an error of opening the database file at path when
// the file is damaged: DuckDB's own message names the block, not the way out.
func explainOpenError(path string, err error) error {
	msg := err.Error()
	for _, m := range damagedMarkers {
		if strings.Contains(msg, m) {
			return damagedError(path, err)
		}
	}
	return fmt.Errorf("open duckdb %s: %w", path, err)
}

func damagedError(path string, err error) error {
	return fmt.Errorf("open duckdb %s: %w\n"+
		"The file is damaged (truncated or overwritten). Restore it from a backup; or move %s and %s.wal aside "+
		"to start with an empty store for logs, spans, error events, job runs and profiles "+
		"(metrics, in the metrics directory, are stored apart and are kept)", path, err, path, path)
}

// fileHeaderBytes is the size of DuckDB's file headers: the main header and two database
// headers of 4 KiB each, before the first block.
const fileHeaderBytes = 3 * 4096

// checkFileSize refuses a database file shorter than its blocks: DuckDB reads blocks only
// when a query needs them, so a file cut short (a copy interrupted, a disk that filled
// up under a restore) opens and then fails query after query. The file holds its headers
// and at least its blocks in use: total_blocks also counts free blocks, and a checkpoint
// that frees the blocks at the end of the file (a dropped partition) truncates them away
// while the next open still counts them in total_blocks (seen with DuckDB 1.4 and 2.0:
// 84 total blocks, 69 of them free, in a file of 15; TestOpenAfterTrailingBlocksFreed).
// A file cut short by less than its free blocks passes here and fails on the first read
// of a lost block.
func (s *Store) checkFileSize(ctx context.Context) error {
	var blockSize, totalBlocks, freeBlocks int64
	if err := s.db.QueryRowContext(ctx, "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()").Scan(&blockSize, &totalBlocks, &freeBlocks); err != nil {
		return fmt.Errorf("read the database size: %w", err)
	}
	usedBlocks := totalBlocks - freeBlocks
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // an in-memory database (":memory:"): no file to check
	}
	if err != nil {
		return fmt.Errorf("stat the database file: %w", err)
	}
	if want := fileHeaderBytes + usedBlocks*blockSize; usedBlocks > 0 && fi.Size() < want {
		return damagedError(s.path, fmt.Errorf("the file has %d bytes, its %d blocks in use need %d", fi.Size(), usedBlocks, want))
	}
	return nil
}
