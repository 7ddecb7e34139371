package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/bench"
)

// runCaptured runs the command with its stdout and stderr in files, and returns its exit code
// and stderr.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	require.NoError(t, err)
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	require.NoError(t, err)
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = stdout, stderr
	code := run(context.Background(), args)
	os.Stdout, os.Stderr = oldOut, oldErr
	require.NoError(t, stdout.Close())
	require.NoError(t, stderr.Close())
	msg, err := os.ReadFile(stderr.Name())
	require.NoError(t, err)
	return code, string(msg)
}

// TestBadFlags: every bad setting is refused with exit code 2 and a message naming it, before
// anything runs.
func TestBadFlags(t *testing.T) {
	repo := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"unknown way", []string{"-ways", "kbv3,fast"}, `unknown "fast" (want some of kbv3,official,official-hosts,modern,modern-hosts,cli, or none)`},
		{"unknown extra", []string{"-ways", "none", "-extras", "slow"}, `unknown "slow"`},
		{"bad fleet", []string{"-fleets", "0"}, "-fleets: fleet \"0\""},
		{"bad clients", []string{"-rps-clients", "1,65"}, `-rps-clients: "65" is not a number of clients from 1 to 64`},
		{"bad clients beat a bad way", []string{"-ways", "fast", "-rps-clients", "x"}, `-rps-clients: "x"`},
		{"zero batch", []string{"-batch", "0"}, "-batch, -server-runs and -startup-runs must be at least 1"},
		{"zero startup runs", []string{"-startup-runs", "0"}, "must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := runCaptured(t, append([]string{"-repo", repo}, tc.args...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, msg, tc.want)
		})
	}
}

// TestRender re-renders saved results into the report, relative to -repo, with the note.
func TestRender(t *testing.T) {
	repo := t.TempDir()
	results := filepath.Join(repo, "results.json")
	data, err := json.Marshal(&bench.Report{Opts: bench.Options{Batch: 10, Invocation: "go run ./cmd/kbv3-bench -ways cli"}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(results, data, 0o644))

	code, msg := runCaptured(t, "-repo", repo, "-render", results, "-out", "report.md", "-note", "Nothing else ran.")
	require.Equal(t, 0, code, msg)
	md, err := os.ReadFile(filepath.Join(repo, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "# Benchmarks")
	assert.Contains(t, string(md), "* Nothing else ran.\n")
	assert.Contains(t, string(md), "go run ./cmd/kbv3-bench -ways cli\n")

	code, msg = runCaptured(t, "-repo", repo, "-render", results+","+filepath.Join(repo, "missing.json"), "-out", "")
	assert.Equal(t, 1, code)
	assert.Contains(t, msg, "missing.json")
}
