package jobs

import (
	"bytes"
	"context"
	"encoding/csv"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func goos() string { return runtime.GOOS }

func hasNvidiaSMI(env map[string]string) bool {
	_, err := lookPath("nvidia-smi", env)
	return err == nil
}

// sampleGPUs asks nvidia-smi for the utilisation and memory of every GPU; nil on failure.
func sampleGPUs(ctx context.Context, env map[string]string) []GPUSample {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := runTool(ctx, "", env, "nvidia-smi",
		"--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits")
	if err != nil {
		return nil
	}
	return parseGPUSamples(out)
}

func parseGPUSamples(out []byte) []GPUSample {
	cr := csv.NewReader(bytes.NewReader(out))
	cr.FieldsPerRecord = -1 // a malformed row is skipped, not fatal
	rows, err := cr.ReadAll()
	if err != nil {
		return nil
	}
	var gs []GPUSample
	for _, r := range rows {
		if len(r) < 3 {
			continue
		}
		idx, err1 := strconv.Atoi(strings.TrimSpace(r[0]))
		util, err2 := strconv.ParseFloat(strings.TrimSpace(r[1]), 64)
		mib, err3 := strconv.ParseUint(strings.TrimSpace(r[2]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		gs = append(gs, GPUSample{Index: idx, UtilizationPct: util, MemoryUsedBytes: mib << 20})
	}
	return gs
}
