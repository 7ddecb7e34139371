package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleName(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	withName := write("named", `{"_ansible_module_name": "keybuzz.infra.kbv3_volume_info", "names": []}`)
	platform := write("platform", `{"_ansible_module_name": "keybuzz.infra.__platforms.linux_arm64"}`)
	unnamed := write("unnamed", `{"names": []}`)
	broken := write("broken", `not json`)
	tests := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"KBV3_MODULE, as the action plugin sets it", "kbv3_volume_detach", []string{"/tmp/x/AnsiballZ_linux_arm64", platform}, "kbv3_volume_detach"},
		{"KBV3_MODULE as a FQCN", "keybuzz.infra.kbv3_volume_attach", []string{"kbv3-modules", withName}, "kbv3_volume_attach"},
		{"args file's module name", "", []string{"kbv3-modules", withName}, "kbv3_volume_info"},
		{"program name without AnsiballZ_", "", []string{"/tmp/x/AnsiballZ_kbv3_volume_verify", unnamed}, "kbv3_volume_verify"},
		{"unreadable args file", "", []string{"plugins/modules/kbv3_volume_create", broken}, "kbv3_volume_create"},
		{"missing args file", "", []string{"kbv3_volume_delete", filepath.Join(dir, "absent")}, "kbv3_volume_delete"},
		{"no arguments", "", []string{"kbv3_volume_delete"}, "kbv3_volume_delete"},
		{"the platform binary's own name is no module", "", []string{"/tmp/x/AnsiballZ_linux_arm64", platform}, "linux_arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, moduleName(tt.env, tt.args))
		})
	}
}
