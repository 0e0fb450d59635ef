package storetest

import "testing"

// RunTraces runs the trace cases of the suite.
func RunTraces(t *testing.T, open Opener) {}
