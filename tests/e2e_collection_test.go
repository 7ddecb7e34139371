package tests

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// maxTarball is the most the Galaxy tarball may weigh.
const maxTarball = 20 << 20

// The Galaxy tarball (what `make collection` builds with ansible-galaxy) installs with
// ansible-galaxy, and a module of the installed copy runs by its FQCN, without the repository's
// ansible.cfg, against the simulator. The tarball is small and carries no Go sources.
func TestE2ECollectionTarball(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	dist := filepath.Join(env.Dir, "dist")
	r := env.Command(ctx, nil, "ansible-galaxy", "collection", "build", "--force", "--output-path", dist, env.Root)
	require.NoError(t, r.Err, r.Summary())
	tarballs, err := filepath.Glob(filepath.Join(dist, "keybuzz-infra-*.tar.gz"))
	require.NoError(t, err)
	require.Len(t, tarballs, 1, r.Summary())
	tarball := tarballs[0]

	fi, err := os.Stat(tarball)
	require.NoError(t, err)
	t.Logf("%s: %.1f MB", filepath.Base(tarball), float64(fi.Size())/(1<<20))
	assert.Less(t, fi.Size(), int64(maxTarball), "the tarball weighs %.1f MB", float64(fi.Size())/(1<<20))

	files := tarFiles(t, tarball)
	for name, size := range files {
		assert.False(t, strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" ||
			strings.HasPrefix(name, "internal/") || strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "modules/") ||
			strings.HasPrefix(name, "tests/") || strings.HasPrefix(name, "bin/"), "Go sources or build output in the tarball: %s (%d bytes)", name, size)
	}
	for _, want := range []string{"MANIFEST.json", "meta/runtime.yml", "playbooks/volume_reset_v3.yml", "servers/volume_plan_v3.json"} {
		assert.Contains(t, files, want)
	}
	for _, m := range []string{"attach", "create", "delete", "detach", "info", "verify"} {
		assert.Contains(t, files, "plugins/modules/kbv3_volume_"+m)
		assert.Contains(t, files, "plugins/modules/kbv3_volume_"+m+".yml")
	}

	installed := filepath.Join(env.Dir, "collections")
	r = env.Command(ctx, []string{"ANSIBLE_CONFIG=", "ANSIBLE_COLLECTIONS_PATH=" + installed},
		"ansible-galaxy", "collection", "install", "-p", installed, tarball)
	require.NoError(t, r.Err, r.Summary())
	module := filepath.Join(installed, "ansible_collections", "keybuzz", "infra", "plugins", "modules", "kbv3_volume_info")
	li, err := os.Lstat(module)
	require.NoError(t, err, r.Summary())
	require.True(t, li.Mode().IsRegular(), "the installed module is a file of its own, not a link into the repository")

	// Ad hoc, from the installed copy only: no ansible.cfg (ANSIBLE_CONFIG= drops the
	// repository's), the installed path as the only collection path.
	r = env.Command(ctx, []string{
		"ANSIBLE_CONFIG=",
		"ANSIBLE_COLLECTIONS_PATH=" + installed,
		"ANSIBLE_LOAD_CALLBACK_PLUGINS=1",
	}, "ansible", "localhost", "-m", "keybuzz.infra.kbv3_volume_info", "-a", `{"names": ["vol-redis-*"]}`)
	require.NoError(t, r.Err, r.Summary())
	assert.Contains(t, r.Output, "localhost | SUCCESS")
	require.Len(t, r.Tasks, 1, r.Summary())
	var res struct {
		Volumes []struct {
			Name   string `json:"name"`
			Server string `json:"server"`
			SizeGB int    `json:"size_gb"`
		} `json:"volumes"`
	}
	require.NoError(t, r.Tasks[0].Decode(&res))
	var got []string
	for _, v := range res.Volumes {
		got = append(got, v.Name+"@"+v.Server)
	}
	assert.Equal(t, []string{"vol-redis-01@redis-01", "vol-redis-02@redis-02", "vol-redis-03@redis-03"}, got)
	assert.NotContains(t, r.Output, env.Token)
	assert.NotContains(t, r.Output, env.Root+"/plugins", "the module ran from the repository")
}

// tarFiles lists the regular files and links of a .tar.gz with their sizes.
func tarFiles(t *testing.T, path string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	files := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeDir {
			files[strings.TrimPrefix(h.Name, "./")] = h.Size
		}
	}
	return files
}
