package tests

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filterDriver calls the collection's kbv3_batches filter with the JSON arguments on stdin and
// prints its answer, or "error: <message>" for the error Ansible would show.
const filterDriver = `
import importlib.util, json, sys
from ansible.errors import AnsibleFilterError
spec = importlib.util.spec_from_file_location('kbv3_batches', '../plugins/filter/kbv3_batches.py')
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
args = json.load(sys.stdin)
try:
    print(json.dumps(mod.FilterModule().filters()['kbv3_batches'](*args)))
except AnsibleFilterError as e:
    print('error: %s' % e)
`

// kbv3Batches runs the filter on entries (old volumes as "name@server", "name" for one reviewed
// detached) and returns its batches as the same strings, or its error.
func kbv3Batches(t *testing.T, entries []string, size any, key string) ([][]string, string) {
	t.Helper()
	in := []map[string]string{}
	for _, e := range entries {
		name, server, _ := strings.Cut(e, "@")
		in = append(in, map[string]string{"name": name, "server": server})
	}
	args, err := json.Marshal([]any{in, size, key})
	require.NoError(t, err)
	// Debian's ansible-core runs on the system's python3, wherever PATH's python3 points.
	cmd := exec.Command("/usr/bin/python3", "-c", filterDriver)
	cmd.Stdin = strings.NewReader(string(args))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s%s", out, stderr.String())
	if msg, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "error: "); ok {
		return nil, msg
	}
	var got [][]map[string]string
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	var batches [][]string
	for _, b := range got {
		var names []string
		for _, e := range b {
			if e["server"] != "" {
				names = append(names, e["name"]+"@"+e["server"])
			} else {
				names = append(names, e["name"])
			}
		}
		batches = append(batches, names)
	}
	return batches, ""
}

// The reset's delete stage cuts its old volumes so that a server's volumes share one batch (its
// module holds them back together when one is refused) and otherwise as Ansible's batch filter
// would, in the list's order.
func TestFilterBatchesKeepsAServersVolumesTogether(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		size    any
		want    [][]string
		err     string
	}{
		{
			name:    "one volume per server: the batches of Ansible's batch filter",
			entries: []string{"a@s1", "b@s2", "c@s3", "d@s4", "e@s5"},
			size:    2,
			want:    [][]string{{"a@s1", "b@s2"}, {"c@s3", "d@s4"}, {"e@s5"}},
		},
		{
			name:    "a server's later volume joins the batch of its first",
			entries: []string{"a@s1", "b@s2", "c@s3", "d@s1"},
			size:    3,
			want:    [][]string{{"a@s1", "d@s1", "b@s2"}, {"c@s3"}},
		},
		{
			name:    "a group that does not fit starts the next batch",
			entries: []string{"a@s1", "b@s2", "c@s2", "d@s3"},
			size:    2,
			want:    [][]string{{"a@s1"}, {"b@s2", "c@s2"}, {"d@s3"}},
		},
		{
			name:    "a group larger than the size is a batch of its own",
			entries: []string{"a@s1", "b@s2", "c@s2", "d@s2", "e@s3"},
			size:    2,
			want:    [][]string{{"a@s1"}, {"b@s2", "c@s2", "d@s2"}, {"e@s3"}},
		},
		{
			name:    "volumes reviewed detached stand alone",
			entries: []string{"a", "b", "c@s1", "d"},
			size:    2,
			want:    [][]string{{"a", "b"}, {"c@s1", "d"}},
		},
		{
			name:    "size as Ansible passes an extra var, a string",
			entries: []string{"a@s1", "b@s2"},
			size:    "1",
			want:    [][]string{{"a@s1"}, {"b@s2"}},
		},
		{name: "nothing to do", entries: nil, size: 10, want: nil},
		{name: "size zero", entries: []string{"a@s1"}, size: 0, err: "kbv3_batches: size must be at least 1, not 0"},
		{name: "size not a number", entries: []string{"a@s1"}, size: "ten", err: "kbv3_batches: size must be a whole number, not 'ten'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kbv3Batches(t, tt.entries, tt.size, "server")
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
