package jobs

import (
	"path/filepath"
	"regexp"
	"strings"
)

// interpreter describes how to find the script in an interpreter's arguments: the options
// that take a value as the next argument (skipped with it), the options whose value is the
// program text itself (no script: the job is named after the interpreter), and the option
// that names a module to run (python -m).
type interpreter struct {
	withValue []string
	inline    []string
	module    string
}

var (
	pythonInterp = interpreter{withValue: []string{"-W", "-X", "--check-hash-based-pycs"}, inline: []string{"-c"}, module: "-m"}
	shellInterp  = interpreter{withValue: []string{"-o", "-O", "+O", "+o", "--rcfile", "--init-file"}, inline: []string{"-c"}}
)

// interpreters by base name of the command; pythonName matches python3.12 and friends.
var interpreters = map[string]interpreter{
	"bash": shellInterp, "sh": shellInterp, "zsh": shellInterp, "dash": shellInterp, "ksh": shellInterp,
	"Rscript": {withValue: []string{"--default-packages"}, inline: []string{"-e"}},
	"julia": {withValue: []string{"-t", "--threads", "-p", "--procs", "-L", "--load", "-J", "--sysimage",
		"-C", "--cpu-target", "--machine-file", "-H", "--home", "--project"}, inline: []string{"-e", "-E", "--eval", "--print"}},
	"node":   {withValue: []string{"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--env-file"}, inline: []string{"-e", "--eval", "-p", "--print"}},
	"nodejs": {withValue: []string{"-r", "--require", "--import", "--loader"}, inline: []string{"-e", "--eval", "-p", "--print"}},
	"perl":   {withValue: []string{"-I", "-M", "-m", "-x"}, inline: []string{"-e", "-E"}},
	"ruby":   {withValue: []string{"-I", "-r", "-C", "-E", "--encoding"}, inline: []string{"-e"}},
}

var pythonName = regexp.MustCompile(`^(python|pypy)[0-9.]*$`)

// defaultJobName names a job after what it runs: the base name of the command, or for an
// interpreter the script it runs ("python3 -u train.py" is train.py, "python -m pkg.train"
// is pkg.train, "bash -x run.sh" is run.sh), looking through "env [VAR=x]...". Inline
// programs ("python -c ...", "bash -c ...") keep the interpreter's name.
func defaultJobName(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	base := filepath.Base(argv[0])
	if base == "env" {
		rest := argv[1:]
		for len(rest) > 0 && (strings.Contains(rest[0], "=") || strings.HasPrefix(rest[0], "-")) {
			if rest[0] == "-S" || rest[0] == "-u" || rest[0] == "-C" {
				rest = rest[min(2, len(rest)):]
				continue
			}
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return base
		}
		return defaultJobName(rest)
	}
	in, ok := interpreters[base]
	if !ok && pythonName.MatchString(base) {
		in, ok = pythonInterp, true
	}
	if !ok {
		return base
	}
	if script := scriptOf(in, argv[1:]); script != "" {
		return script
	}
	return base
}

// scriptOf finds the script (its base name) or module in an interpreter's arguments, or "".
func scriptOf(in interpreter, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return filepath.Base(args[i+1])
			}
			return ""
		}
		if a == "-" || !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") {
			if a == "-" || a == "" {
				return "" // the program comes from stdin
			}
			return filepath.Base(a)
		}
		flag, _, hasValue := strings.Cut(a, "=")
		if in.module != "" && strings.HasPrefix(a, in.module) && !strings.HasPrefix(a, "--") {
			if len(a) > len(in.module) {
				return a[len(in.module):] // -mpkg.mod
			}
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		if contains(in.inline, flag) || hasCombinedInline(in, a) {
			return ""
		}
		if contains(in.withValue, flag) && !hasValue {
			i++ // the next argument is this option's value
		}
	}
	return ""
}

// hasCombinedInline reports a cluster of short options ending in an inline one, as in
// "bash -xc 'cmd'" or "python -uc 'code'".
func hasCombinedInline(in interpreter, a string) bool {
	if strings.HasPrefix(a, "--") || len(a) < 3 || contains(in.withValue, a[:2]) {
		return false // "-Ilib", "-Werror": an option with its value attached
	}
	for _, f := range in.inline {
		if len(f) == 2 && strings.HasSuffix(a, f[1:]) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
