package plan_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
)

// A YAML plan is read by the same strict parser as a JSON one, and what YAML alone can say (a
// key twice, an alias) is refused with its line.
func TestLoadYAML(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       *plan.Plan
		err        string
	}{
		{name: "a plan", yaml: "version: 1\nvolumes:\n  - hostname: web-01\n    size_gb: 20\n    format: ext4\n    labels: {role: web}\n",
			want: &plan.Plan{Version: 1, Volumes: []plan.Entry{{Hostname: "web-01", SizeGB: 20, Format: "ext4", Labels: map[string]string{"role": "web"}}}}},
		{name: "a key twice", yaml: "version: 1\nvolumes:\n  - hostname: db-01\n    size_gb: 50\n    size_gb: 60\n",
			err: `line 5: duplicate field "size_gb" (first at line 4)`},
		{name: "an unknown field", yaml: "version: 1\nvolumes:\n  - hostname: db-01\n    sise_gb: 50\n",
			err: `volumes[0] (db-01): unknown field "sise_gb"`},
		{name: "a size as a string", yaml: "version: 1\nvolumes:\n  - hostname: db-01\n    size_gb: \"50\"\n",
			err: `volumes[0] (db-01): size_gb: got string, want an integer`},
		{name: "an alias", yaml: "version: 1\nx: &a 1\nvolumes:\n  - hostname: db-01\n    size_gb: *a\n",
			err: `line 5: aliases are not read in a plan`},
		{name: "empty", yaml: "", err: "the file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plan.yml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o644))
			p, err := plan.Load(path)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), path)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
		})
	}
}

func TestEntryFormat(t *testing.T) {
	for _, f := range []string{"", "xfs", "ext4"} {
		assert.NoError(t, plan.Entry{Hostname: "a-01", SizeGB: 10, Format: f}.Validate(), f)
	}
	err := plan.Entry{Hostname: "a-01", SizeGB: 10, Format: "btrfs"}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `format "btrfs" is not one the API makes (xfs, ext4, or none)`)
}
