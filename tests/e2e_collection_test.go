package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// maxTarball is the most the Galaxy tarball may weigh: Galaxy's 20 MB, read as 20,000,000 bytes
// (the stricter of the two readings).
const maxTarball = 20_000_000

// moduleNames are the collection's six modules.
var moduleNames = []string{"kbv3_volume_attach", "kbv3_volume_create", "kbv3_volume_delete", "kbv3_volume_detach", "kbv3_volume_info", "kbv3_volume_verify"}

// The Galaxy tarball (what `make collection` builds with ansible-galaxy, after make platforms)
// carries one module binary per shipped platform and weighs less than 20 MB; installed with
// ansible-galaxy into a fresh collections path, the modules take one copy of each platform's
// binary on disk, ansible-doc -l lists the six, and a module of the installed copy runs by its
// FQCN, without the repository's ansible.cfg, against the simulator.
func TestCollectionTarball(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{}) // make build first: it may relink this machine's binary
	binaries := map[string][]byte{}        // tarball path → content, from the checkout
	for _, p := range shippedPlatforms {
		data, err := os.ReadFile(platformBinary(t, p))
		require.NoError(t, err)
		binaries["plugins/modules/__platforms/"+p.name()] = data
	}
	dist := filepath.Join(env.Dir, "dist")
	r := env.Command(ctx, nil, "ansible-galaxy", "collection", "build", "--force", "--output-path", dist, env.Root)
	require.NoError(t, r.Err, r.Summary())
	tarballs, err := filepath.Glob(filepath.Join(dist, "keybuzz-infra-*.tar.gz"))
	require.NoError(t, err)
	require.Len(t, tarballs, 1, r.Summary())
	tarball := tarballs[0]

	fi, err := os.Stat(tarball)
	require.NoError(t, err)
	t.Logf("%s: %.2f MB (%d bytes)", filepath.Base(tarball), float64(fi.Size())/1e6, fi.Size())
	assert.Less(t, fi.Size(), int64(maxTarball), "the tarball weighs %.2f MB", float64(fi.Size())/1e6)

	checkTarballFiles(t, tarball, binaries)

	installed := filepath.Join(env.Dir, "collections")
	r = env.Command(ctx, []string{"ANSIBLE_CONFIG=", "ANSIBLE_COLLECTIONS_PATH=" + installed},
		"ansible-galaxy", "collection", "install", "-p", installed, tarball)
	require.NoError(t, r.Err, r.Summary())
	coll := filepath.Join(installed, "ansible_collections", "keybuzz", "infra")
	module := filepath.Join(coll, "plugins", "modules", "kbv3_volume_info")
	li, err := os.Lstat(module)
	require.NoError(t, err, r.Summary())
	require.True(t, li.Mode().IsRegular(), "the installed module is a file of its own, not a link into the repository")

	// On disk: each platform's binary once, and nothing else of its size.
	checkInstalledOnce(t, filepath.Join(coll, "plugins", "modules"), coll, binaries)

	checkAnsibleDocList(t, "ansible-doc", installed)

	// Ad hoc, from the installed copy only: no ansible.cfg (ANSIBLE_CONFIG= drops the
	// repository's), the installed path as the only collection path.
	checkAdHocFromInstalled(t, ctx, env, installed)
}

// checkTarballFiles checks what the tarball holds: no Go sources or build output, the
// collection's metadata and playbooks, each shipped platform's binary (binaries: path in the
// tarball → content) and a stub file per module.
func checkTarballFiles(t *testing.T, tarball string, binaries map[string][]byte) {
	t.Helper()
	files := tarFiles(t, tarball)
	for name, size := range files {
		assert.False(t, strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" ||
			strings.HasPrefix(name, "internal/") || strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "modules/") ||
			strings.HasPrefix(name, "tests/") || strings.HasPrefix(name, "bin/"), "Go sources or build output in the tarball: %s (%d bytes)", name, size)
		if strings.HasPrefix(name, "plugins/modules/__platforms/") {
			assert.Contains(t, binaries, name, "a binary of a platform the collection does not ship")
		}
	}
	for _, want := range []string{"MANIFEST.json", "meta/runtime.yml", "playbooks/volume_reset_v3.yml", "servers/volume_plan_v3.json",
		"plugins/action/kbv3_platform.py", "plugins/module_utils/kbv3_platform.py"} {
		assert.Contains(t, files, want)
	}
	for name, data := range binaries {
		assert.Equal(t, int64(len(data)), files[name], "%s in the tarball", name)
	}
	for _, m := range moduleNames {
		assert.Contains(t, files, "plugins/modules/"+m+".yml")
		if assert.Contains(t, files, "plugins/modules/"+m) {
			assert.Less(t, files["plugins/modules/"+m], int64(4096), "the module file %s is a stub, not a binary", m)
		}
	}
}

// checkInstalledOnce checks that modulesDir holds each platform's binary once, and nothing else
// of its size; coll is the installed collection.
func checkInstalledOnce(t *testing.T, modulesDir, coll string, binaries map[string][]byte) {
	t.Helper()
	copies := map[string]int{}
	var onePerPlatform int64
	for _, data := range binaries {
		onePerPlatform += roundBlocks(int64(len(data)))
	}
	used := diskUsage(t, modulesDir, func(path string, data []byte) {
		for name, bin := range binaries {
			if bytes.Equal(data, bin) {
				copies[name]++
			}
		}
	})
	for name := range binaries {
		assert.Equal(t, 1, copies[name], "copies of %s installed", name)
	}
	t.Logf("installed plugins/modules: %.1f MB on disk (one copy per platform: %.1f MB); whole collection %.1f MB",
		float64(used)/1e6, float64(onePerPlatform)/1e6, float64(diskUsage(t, coll, nil))/1e6)
	assert.LessOrEqual(t, used, onePerPlatform+256<<10, "the installed modules take more than one copy per platform")
}

// checkAdHocFromInstalled runs kbv3_volume_info ad hoc from the collection installed in
// installed, with no ansible.cfg and that path as the only collection path.
func checkAdHocFromInstalled(t *testing.T, ctx context.Context, env *e2e.Env, installed string) {
	t.Helper()
	r := env.Command(ctx, []string{
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

// ansible-doc -l lists the six modules of the checkout (the collection as ansible.cfg finds it).
func TestCollectionAnsibleDocList(t *testing.T) {
	if _, err := e2e.Build(); err != nil {
		t.Fatalf("building the collection: %v", err)
	}
	checkAnsibleDocList(t, "ansible-doc", filepath.Join(docRepoRoot(t), ".build", "collections"))
}

// checkAnsibleDocList runs `ansibleDoc -l keybuzz.infra` (plain and --json) against
// collectionsPath only, with no ansible.cfg, and checks that it lists exactly the six modules,
// each with the short_description of its sidecar documentation, and warns about nothing. It
// takes the ansible-doc to run, and extra environment (PYTHONPATH=...) for it, so that each
// ansible-core the project supports can be checked.
func checkAnsibleDocList(t *testing.T, ansibleDoc, collectionsPath string, extraEnv ...string) {
	t.Helper()
	root := docRepoRoot(t)
	want := map[string]string{}
	shortDesc := regexp.MustCompile(`(?m)^  short_description: (.+)$`)
	for _, m := range moduleNames {
		doc, err := os.ReadFile(filepath.Join(root, "plugins", "modules", m+".yml"))
		require.NoError(t, err)
		sd := shortDesc.FindSubmatch(doc)
		require.NotNil(t, sd, "no short_description in %s.yml", m)
		want["keybuzz.infra."+m] = strings.TrimSpace(string(sd[1]))
	}
	run := func(args ...string) (string, string) {
		cmd := exec.Command(ansibleDoc, args...)
		cmd.Env = append(append(os.Environ(), "ANSIBLE_CONFIG=", "ANSIBLE_COLLECTIONS_PATH="+collectionsPath, "ANSIBLE_NOCOLOR=1"), extraEnv...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "%s %s: %s", ansibleDoc, strings.Join(args, " "), stderr.String())
		return stdout.String(), stderr.String()
	}

	out, errOut := run("-l", "-j", "keybuzz.infra")
	assert.NotContains(t, errOut, "WARNING", "ansible-doc -l warned")
	var listed map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &listed), out)
	assert.Equal(t, want, listed)

	out, errOut = run("-l", "keybuzz.infra")
	assert.NotContains(t, errOut, "WARNING", "ansible-doc -l warned")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, len(moduleNames), out)
	for _, line := range lines {
		name, desc, _ := strings.Cut(line, " ")
		desc = strings.TrimSuffix(strings.TrimSpace(desc), "...")
		if assert.Contains(t, want, name, out) {
			assert.True(t, strings.HasPrefix(want[name], desc), "%s is listed as %q", name, desc)
		}
	}
}

// diskUsage is what du counts under dir (allocated blocks, each file once); visit, when given,
// sees each regular file's content.
func diskUsage(t *testing.T, dir string, visit func(path string, data []byte)) int64 {
	t.Helper()
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		require.True(t, ok)
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if seen[key] {
			return nil
		}
		seen[key] = true
		total += st.Blocks * 512
		if visit != nil && info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			visit(path, data)
		}
		return nil
	})
	require.NoError(t, err)
	return total
}

// roundBlocks is size rounded up to whole 4 KiB blocks, as a file of that size takes on disk.
func roundBlocks(size int64) int64 { return (size + 4095) / 4096 * 4096 }

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
