package oplog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogAppendsOneLinePerEntryConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"earlier":"run"}`+"\n"), 0o600))
	const secret = "s3cr3t-T0ken-\"quoted\""
	l, err := Open(path, "kbv3_volume_detach", secret, "")
	require.NoError(t, err)

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			l.Write(Entry{Volume: fmt.Sprintf("vol-%02d", i), ID: int64(i), Outcome: "detached", Attempt: 1,
				Error: "request with token " + secret + " failed"})
		})
	}
	wg.Wait()
	require.NoError(t, l.Close())

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	require.True(t, sc.Scan())
	assert.JSONEq(t, `{"earlier":"run"}`, sc.Text(), "appended, not truncated")
	n := 0
	for sc.Scan() {
		n++
		assert.NotContains(t, sc.Text(), "s3cr3t")
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		for _, k := range []string{"time", "module", "volume", "id", "server", "action_id", "outcome", "attempt", "error"} {
			assert.Contains(t, m, k)
		}
		assert.Equal(t, "kbv3_volume_detach", m["module"])
		assert.Equal(t, "request with token ******** failed", m["error"])
		ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), ts, time.Minute)
	}
	assert.Equal(t, 50, n)
}

func TestNilLoggerDiscards(t *testing.T) {
	l, err := Open("", "m")
	require.NoError(t, err)
	assert.Nil(t, l)
	l.Write(Entry{Volume: "x"})
	assert.NoError(t, l.Close())
}

func TestOpenCreatesTheDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "v3", "ops.jsonl")
	l, err := Open(path, "m")
	require.NoError(t, err)
	l.Write(Entry{Volume: "x"})
	require.NoError(t, l.Close())
	assert.FileExists(t, path)
}

func TestOpenErrorNamesTheOption(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	_, err := Open(filepath.Join(notDir, "ops.jsonl"), "m")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log_path: ")
}
