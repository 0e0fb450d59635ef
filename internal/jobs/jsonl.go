package jobs

import (
	"encoding/json"
	"fmt"
	"os"
)

// AppendJSONL appends rec as one JSON line to path, creating the file if needed. The line
// is written with a single write on an O_APPEND file, so concurrent runs appending to the
// same file do not interleave their records.
func AppendJSONL(path string, rec *Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open output file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write output file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close output file: %w", err)
	}
	return nil
}
