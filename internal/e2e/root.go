package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Modules are the six module binaries make build puts in plugins/modules.
var Modules = []string{"kbv3_volume_attach", "kbv3_volume_create", "kbv3_volume_delete", "kbv3_volume_detach", "kbv3_volume_info", "kbv3_volume_verify"}

// Root is the repository: the nearest directory above the working directory whose go.mod is
// the kbv3 module's (a go.mod of another module, such as a fixture's, is not the root).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/keybuzz/kbv3\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2e: not inside the kbv3 module (no go.mod of github.com/keybuzz/kbv3 above the working directory)")
		}
		dir = parent
	}
}

// CheckBuilt reports a missing module binary, simulator or collection link (make build), or a
// missing ansible-playbook (make deps).
func CheckBuilt(root string) error {
	need := []string{filepath.Join(root, "bin", "hcloud-sim"), filepath.Join(root, ".build", "collections", "ansible_collections", "keybuzz", "infra")}
	for _, m := range Modules {
		need = append(need, filepath.Join(root, "plugins", "modules", m))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("e2e: %s is missing: run make build first", p)
		}
	}
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		return errors.New("e2e: ansible-playbook is not on PATH (make deps)")
	}
	return nil
}
