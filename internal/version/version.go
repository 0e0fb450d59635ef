// Package version reports which Loupe build is running.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time by the Makefile (-X); "dev" otherwise.
var Version = "dev"

// Info describes the running build.
type Info struct {
	Version   string
	Revision  string // VCS commit, when the build recorded it
	GoVersion string
}

// Get returns the build information of this binary.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Revision = s.Value
			}
		}
	}
	return info
}
