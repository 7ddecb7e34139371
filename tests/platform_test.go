package tests

import (
	"context"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// The collection ships one kbv3-modules binary per controller platform in
// plugins/modules/__platforms/<goos>_<goarch>, and the action plugin keybuzz.infra.kbv3_platform
// picks one from the controller's uname (plugins/module_utils/kbv3_platform.py). These tests
// check the binaries `make platforms` built (make test builds them), the selection, and the
// linux/arm64 binary at work under qemu-aarch64-static, alone and through ansible-playbook with
// the selection forced by the test-only KBV3_TEST_UNAME / KBV3_TEST_EXEC.

// shippedPlatform is one platform the collection ships a binary for.
type shippedPlatform struct {
	goos, goarch string
	// uname is what `uname -s -m` prints on such a controller.
	uname [2]string
	elf   elf.Machine
	macho macho.Cpu
}

var shippedPlatforms = []shippedPlatform{
	{goos: "linux", goarch: "amd64", uname: [2]string{"Linux", "x86_64"}, elf: elf.EM_X86_64},
	{goos: "linux", goarch: "arm64", uname: [2]string{"Linux", "aarch64"}, elf: elf.EM_AARCH64},
	{goos: "darwin", goarch: "arm64", uname: [2]string{"Darwin", "arm64"}, macho: macho.CpuArm64},
	{goos: "darwin", goarch: "amd64", uname: [2]string{"Darwin", "x86_64"}, macho: macho.CpuAmd64},
}

func (p shippedPlatform) name() string { return p.goos + "_" + p.goarch }

// platformBinary is the checkout's binary for p; it fails t when `make platforms` has not run.
func platformBinary(t *testing.T, p shippedPlatform) string {
	t.Helper()
	path := filepath.Join(docRepoRoot(t), "plugins", "modules", "__platforms", p.name())
	_, err := os.Stat(path)
	require.NoError(t, err, "the %s/%s module binary is missing: run make platforms (make test does)", p.goos, p.goarch)
	return path
}

// qemuArm64 is qemu-aarch64-static, which make deps installs (Debian's qemu-user-static).
func qemuArm64(t *testing.T) string {
	t.Helper()
	q, err := exec.LookPath("qemu-aarch64-static")
	require.NoError(t, err, "qemu-aarch64-static is not on PATH: run make deps (Debian package qemu-user-static)")
	return q
}

// Each binary is a static executable for its platform: ELF of the right machine without an
// interpreter for Linux, Mach-O executable of the right CPU for macOS.
func TestPlatformBinaries(t *testing.T) {
	for _, p := range shippedPlatforms {
		t.Run(p.name(), func(t *testing.T) {
			path := platformBinary(t, p)
			if p.goos == "darwin" {
				f, err := macho.Open(path)
				require.NoError(t, err, "%s is not a Mach-O file", path)
				defer f.Close()
				assert.Equal(t, p.macho, f.Cpu)
				assert.Equal(t, macho.TypeExec, f.Type)
				return
			}
			f, err := elf.Open(path)
			require.NoError(t, err, "%s is not an ELF file", path)
			defer f.Close()
			assert.Equal(t, p.elf, f.Machine)
			assert.Equal(t, elf.ET_EXEC, f.Type)
			for _, prog := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, prog.Type, "dynamically linked: CGO_ENABLED=0 is missing")
			}
		})
	}
}

// selectionScript loads plugins/module_utils/kbv3_platform.py by path (no Ansible needed) and
// answers each {"system", "machine"} case of stdin with the binary's module name or the error.
const selectionScript = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("kbv3_platform", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
out = []
for c in json.load(sys.stdin):
    try:
        if "uname" in c:
            uname, exe = m.test_overrides({m.TEST_UNAME_ENV: c["uname"], m.TEST_EXEC_ENV: c.get("exec", "")})
            out.append({"module": m.binary_module(*uname), "exec": exe})
        else:
            out.append({"module": m.binary_module(c.get("system", ""), c.get("machine", ""))})
    except m.UnsupportedPlatform as e:
        out.append({"error": str(e)})
print(json.dumps(out))
`

type selectionCase struct {
	System  string `json:"system,omitempty"`
	Machine string `json:"machine,omitempty"`
	Uname   string `json:"uname,omitempty"`
	Exec    string `json:"exec,omitempty"`
}

type selectionAnswer struct {
	Module string  `json:"module"`
	Exec   *string `json:"exec"`
	Error  string  `json:"error"`
}

// runSelection runs the action plugin's selection function on each case with Debian's python3.
func runSelection(t *testing.T, cases []selectionCase) []selectionAnswer {
	t.Helper()
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	lib := filepath.Join(docRepoRoot(t), "plugins", "module_utils", "kbv3_platform.py")
	cmd := exec.Command("/usr/bin/python3", "-c", selectionScript, lib)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	require.NoError(t, err, "python3: %s", out)
	var answers []selectionAnswer
	require.NoError(t, json.Unmarshal(out, &answers), "%s", out)
	require.Len(t, answers, len(cases))
	return answers
}

// The selection maps what uname says on each shipped platform (and its spellings) to that
// platform's binary, and refuses the others naming what the collection ships.
func TestPlatformSelection(t *testing.T) {
	type want struct {
		module string // binary module; empty when refused
		err    string
	}
	tests := []struct {
		name string
		in   selectionCase
		want want
	}{
		{"linux amd64", selectionCase{System: "Linux", Machine: "x86_64"}, want{module: "keybuzz.infra.__platforms.linux_amd64"}},
		{"linux arm64 (CAX, Raspberry Pi 64-bit)", selectionCase{System: "Linux", Machine: "aarch64"}, want{module: "keybuzz.infra.__platforms.linux_arm64"}},
		{"linux arm64 spelt arm64", selectionCase{System: "Linux", Machine: "arm64"}, want{module: "keybuzz.infra.__platforms.linux_arm64"}},
		{"macOS Apple silicon", selectionCase{System: "Darwin", Machine: "arm64"}, want{module: "keybuzz.infra.__platforms.darwin_arm64"}},
		{"macOS Intel (or Rosetta)", selectionCase{System: "Darwin", Machine: "x86_64"}, want{module: "keybuzz.infra.__platforms.darwin_amd64"}},
		{"case and blanks", selectionCase{System: " darwin", Machine: "ARM64\n"}, want{module: "keybuzz.infra.__platforms.darwin_arm64"}},
		{"32-bit Raspberry Pi OS", selectionCase{System: "Linux", Machine: "armv7l"}, want{err: "no module binary for Linux/armv7l; it ships linux/amd64, linux/arm64, darwin/arm64, darwin/amd64"}},
		{"FreeBSD", selectionCase{System: "FreeBSD", Machine: "amd64"}, want{err: "no module binary for FreeBSD/amd64"}},
		{"empty", selectionCase{}, want{err: "no module binary for /"}},
		{"test override", selectionCase{Uname: "Linux aarch64", Exec: "/usr/bin/qemu-aarch64-static"}, want{module: "keybuzz.infra.__platforms.linux_arm64"}},
		{"test override for macOS", selectionCase{Uname: "Darwin arm64"}, want{module: "keybuzz.infra.__platforms.darwin_arm64"}},
		{"bad test override", selectionCase{Uname: "aarch64"}, want{err: "cannot tell the platform from uname output 'aarch64'"}},
	}
	cases := make([]selectionCase, len(tests))
	for i, tt := range tests {
		cases[i] = tt.in
	}
	answers := runSelection(t, cases)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := answers[i]
			if tt.want.err != "" {
				assert.Empty(t, got.Module)
				assert.Contains(t, got.Error, tt.want.err)
				return
			}
			assert.Empty(t, got.Error)
			assert.Equal(t, tt.want.module, got.Module)
			switch {
			case tt.in.Exec != "":
				require.NotNil(t, got.Exec, "the override's exec is returned")
				assert.Equal(t, tt.in.Exec, *got.Exec)
			default:
				assert.Nil(t, got.Exec, "no exec override unless set")
			}
		})
	}
	// Every shipped platform is selected by its own uname, and is a binary make platforms builds.
	for i, a := range runSelection(t, func() []selectionCase {
		var cs []selectionCase
		for _, p := range shippedPlatforms {
			cs = append(cs, selectionCase{System: p.uname[0], Machine: p.uname[1]})
		}
		return cs
	}()) {
		assert.Equal(t, "keybuzz.infra.__platforms."+shippedPlatforms[i].name(), a.Module)
	}
}

// Run by hand, a module stub (plugins/modules/<name> ARGS_FILE) runs the binary of the machine it
// is on as that module: the stub's own uname mapping agrees with the action plugin's.
func TestPlatformStubSelection(t *testing.T) {
	root := docRepoRoot(t)
	for _, p := range shippedPlatforms {
		t.Run(p.name(), func(t *testing.T) {
			dir := t.TempDir()
			modules := filepath.Join(dir, "modules")
			require.NoError(t, os.MkdirAll(filepath.Join(modules, "__platforms"), 0o755))
			stub, err := os.ReadFile(filepath.Join(root, "plugins", "modules", "kbv3_volume_detach"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(modules, "kbv3_volume_detach"), stub, 0o755))
			// Stand-ins: every platform's "binary" says which it is and what it was asked to run.
			for _, q := range shippedPlatforms {
				script := "#!/bin/sh\necho \"" + q.name() + " $KBV3_MODULE $1\"\n"
				require.NoError(t, os.WriteFile(filepath.Join(modules, "__platforms", q.name()), []byte(script), 0o755))
			}
			// A uname that answers as the platform would.
			bin := filepath.Join(dir, "bin")
			require.NoError(t, os.MkdirAll(bin, 0o755))
			uname := "#!/bin/sh\ncase \"$1\" in -s) echo " + p.uname[0] + ";; -m) echo " + p.uname[1] + ";; esac\n"
			require.NoError(t, os.WriteFile(filepath.Join(bin, "uname"), []byte(uname), 0o755))
			cmd := exec.Command(filepath.Join(modules, "kbv3_volume_detach"), "ARGS")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, p.name()+" kbv3_volume_detach ARGS\n", string(out))
		})
	}
}

// The linux/arm64 binary runs each way Ansible or a person runs it, under qemu-aarch64-static:
// the module named by the args file's _ansible_module_name, and by KBV3_MODULE (what the action
// plugin sets); it lists the simulator's volumes like the native one.
func TestPlatformArm64Direct(t *testing.T) {
	qemu := qemuArm64(t)
	binary := platformBinary(t, shippedPlatforms[1])
	env, ctx := e2eStart(t, e2e.Options{})
	tests := []struct {
		name   string
		env    []string
		module string // _ansible_module_name in the args file
	}{
		{"args file", nil, "keybuzz.infra.kbv3_volume_info"},
		{"KBV3_MODULE", []string{"KBV3_MODULE=kbv3_volume_info"}, ""},
		{"KBV3_MODULE wins over the binary's own module name", []string{"KBV3_MODULE=kbv3_volume_info"}, "keybuzz.infra.__platforms.linux_arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := map[string]any{"names": []string{"vol-redis-*"}, "_ansible_check_mode": false}
			if tt.module != "" {
				args["_ansible_module_name"] = tt.module
			}
			data, err := json.Marshal(args)
			require.NoError(t, err)
			argsFile := filepath.Join(t.TempDir(), "args")
			require.NoError(t, os.WriteFile(argsFile, data, 0o600))
			r := env.Command(ctx, tt.env, qemu, binary, argsFile)
			require.NoError(t, r.Err, r.Output)
			var res struct {
				Failed  bool   `json:"failed"`
				Msg     string `json:"msg"`
				Volumes []struct {
					Name   string `json:"name"`
					Server string `json:"server"`
				} `json:"volumes"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.Output), &res), r.Output)
			require.False(t, res.Failed, res.Msg)
			var got []string
			for _, v := range res.Volumes {
				got = append(got, v.Name+"@"+v.Server)
			}
			assert.Equal(t, []string{"vol-redis-01@redis-01", "vol-redis-02@redis-02", "vol-redis-03@redis-03"}, got)
			assert.NotContains(t, r.Output, env.Token)
		})
	}
}

// arm64Env forces the action plugin's selection to linux/arm64 and runs that binary under qemu.
func arm64Env(t *testing.T) []string {
	return []string{"KBV3_TEST_UNAME=Linux aarch64", "KBV3_TEST_EXEC=" + qemuArm64(t)}
}

// playbookEnv runs playbooks/<name> as env.Playbook does (the test's paths), with more
// environment variables.
func playbookEnv(ctx context.Context, env *e2e.Env, vars []string, name string, args ...string) *e2e.Run {
	paths, err := json.Marshal(map[string]string{
		"plan_path":     env.Path(e2e.PlanFile),
		"diff_path":     env.Path(e2e.DiffFile),
		"snapshot_path": env.Path(e2e.SnapshotFile),
		"report_path":   env.Path(e2e.ReportFile),
		"log_path":      env.Path(e2e.LogFile),
	})
	if err != nil {
		panic(err)
	}
	argv := append([]string{"ansible-playbook", filepath.Join(env.Root, "playbooks", name), "-e", string(paths)}, args...)
	return env.Command(ctx, vars, argv...)
}

// The whole reset, from the checkout, with every module task run by the linux/arm64 binary under
// qemu: the action plugin picked it (-vvv names the module file each task used), the diff and
// reset playbooks succeed, and the fleet ends as planned.
func TestPlatformArm64Reset(t *testing.T) {
	platformBinary(t, shippedPlatforms[1])
	env, ctx := e2eStart(t, e2e.Options{})
	forced := arm64Env(t)
	for _, pb := range []string{e2e.DiffPlaybook, e2e.ResetPlaybook} {
		r := playbookEnv(ctx, env, forced, pb, "-vvv")
		e2eRequireOK(t, r)
		used := regexp.MustCompile(`Using module file (\S+)`).FindAllStringSubmatch(r.Output, -1)
		require.NotEmpty(t, used, "%s: no module ran", pb)
		for _, u := range used {
			assert.True(t, strings.HasSuffix(u[1], "/__platforms/linux_arm64"), "%s ran %s", pb, u[1])
		}
		assert.Regexp(t, `KBV3_MODULE=kbv3_volume_\w+ +\S*qemu-aarch64-static \S+/AnsiballZ_linux_arm64 `, r.Output)
		t.Logf("%s: %d module runs under qemu, %s", pb, len(used), r.Duration.Round(time.Second))
	}
	assert.Empty(t, env.FleetProblems())
}

// Through Ansible, the uname the action plugin sees decides the binary it runs: each shipped
// platform's own (-vvv names the module file and the command), run natively or under qemu on
// Linux; a Mach-O binary cannot execute here, which shows it was the one chosen. A platform the
// collection does not ship fails the task with a message naming it, before anything runs.
func TestPlatformSelectionThroughAnsible(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	qemu := qemuArm64(t)
	tests := []struct {
		uname  string
		exec   string
		binary string // "" when refused
		ok     bool
		output string
	}{
		{uname: "Linux x86_64", binary: "linux_amd64", ok: true, output: `"msg": "3 volumes`},
		{uname: "Linux aarch64", exec: qemu, binary: "linux_arm64", ok: true, output: `"msg": "3 volumes`},
		{uname: "Darwin arm64", binary: "darwin_arm64", output: "Exec format error"},
		{uname: "Darwin x86_64", binary: "darwin_amd64", output: "Exec format error"},
		{uname: "Linux armv7l", output: "keybuzz.infra has no module binary for Linux/armv7l; it ships linux/amd64, linux/arm64, darwin/arm64, darwin/amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.uname, func(t *testing.T) {
			vars := []string{"KBV3_TEST_UNAME=" + tt.uname}
			if tt.exec != "" {
				vars = append(vars, "KBV3_TEST_EXEC="+tt.exec)
			}
			r := env.Command(ctx, vars, "ansible", "localhost", "-m", "keybuzz.infra.kbv3_volume_info", "-a", `{"names": ["vol-redis-*"]}`, "-vvv")
			if tt.ok {
				require.NoError(t, r.Err, r.Output)
			} else {
				require.Error(t, r.Err, r.Output)
			}
			assert.Contains(t, r.Output, tt.output)
			used := regexp.MustCompile(`Using module file (\S+)`).FindAllStringSubmatch(r.Output, -1)
			if tt.binary == "" {
				assert.Empty(t, used, "a module ran")
				return
			}
			require.Len(t, used, 1, r.Output)
			assert.True(t, strings.HasSuffix(used[0][1], "/__platforms/"+tt.binary), "ran %s", used[0][1])
			assert.Regexp(t, `KBV3_MODULE=kbv3_volume_info +`+regexp.QuoteMeta(tt.exec)+` *\S+/AnsiballZ_`+tt.binary+` `, r.Output)
		})
	}
}
