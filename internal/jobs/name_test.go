package jobs

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultJobName(t *testing.T) {
	f := func(cmd, want string) {
		t.Helper()
		require.Equal(t, want, defaultJobName(strings.Fields(cmd)), cmd)
	}
	f("./simulate --steps 1000", "simulate")
	f("/usr/bin/python3 train.py --epochs 20", "train.py")
	f("python3 -u -W ignore train.py", "train.py")
	f("python -X importtime -O scripts/train.py", "train.py")
	f("python3.12 -Wignore train.py", "train.py")
	f("python -m pkg.train --lr 0.1", "pkg.train")
	f("python3 -u -m torch.distributed.run x.py", "torch.distributed.run")
	f("python -mpkg.mod", "pkg.mod")
	f("python -c print(1)", "python")
	f("python -uc print(1)", "python")
	f("python3", "python3")
	f("python3 -", "python3")
	f("pypy3 bench.py", "bench.py")
	f("bash run.sh arg", "run.sh")
	f("bash -x -o pipefail /jobs/run.sh", "run.sh")
	f("sh -c echo", "sh")
	f("bash -xc echo", "bash")
	f("Rscript --vanilla analysis.R", "analysis.R")
	f("Rscript -e 1+1", "Rscript")
	f("julia -t 8 --project=. sim.jl", "sim.jl")
	f("julia -e 1", "julia")
	f("node --max-old-space-size=4096 -r ts-node/register app.js", "app.js")
	f("perl -Ilib -w process.pl", "process.pl")
	f("ruby -I lib task.rb", "task.rb")
	f("env OMP_NUM_THREADS=4 python3 train.py", "train.py")
	f("/usr/bin/env -u HOME bash job.sh", "job.sh")
	f("env", "env")
}

// TestRunNamesInterpreterJobsAfterTheScript: `loupe run -- sh script.sh` is the job
// script.sh, not sh; --name still wins.
func TestRunNamesInterpreterJobsAfterTheScript(t *testing.T) {
	opts := testOptions(t)
	_, rec, err := Run(context.Background(), opts, []string{"sh", "-e", "/dev/null"})
	require.NoError(t, err)
	require.Equal(t, "null", rec.Name)

	opts.Name = "given"
	_, rec, err = Run(context.Background(), opts, []string{"sh", "-e", "/dev/null"})
	require.NoError(t, err)
	require.Equal(t, "given", rec.Name)
}

// FuzzDefaultJobName: any argv gets a name without panicking, and ScrubArgs keeps its length.
func FuzzDefaultJobName(f *testing.F) {
	for _, s := range []string{"python3 -m", "python -W", "bash -xc", "env -u", "env A=1", "julia -t 8 x.jl", "node --", "tool --password"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Split(s, " ")
		_ = defaultJobName(argv)
		if got := ScrubArgs(argv); len(got) != len(argv) {
			t.Fatalf("ScrubArgs(%q) has %d args", argv, len(got))
		}
	})
}
