package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModernEnvVar names the directory of the modern toolchain (scripts/modern-ansible.sh DIR), as
// the Makefile exports it for the tests.
const ModernEnvVar = "KBV3_MODERN_ANSIBLE"

// Modern is the modern toolchain: Debian trixie's ansible-core 2.19 and ansible 12 (with
// hetzner.hcloud 5.x) unpacked by `make modern-ansible`, run on /usr/bin/python3 beside the
// system's ansible 2.14.
type Modern struct {
	Dir string // scripts/modern-ansible.sh DIR
}

// Bin is the directory of its ansible-playbook; PythonPath that of its ansible and
// ansible_collections packages.
func (m Modern) Bin() string { return filepath.Join(m.Dir, "root", "usr", "bin") }

// PythonPath is the directory of its ansible and ansible_collections packages.
func (m Modern) PythonPath() string {
	return filepath.Join(m.Dir, "root", "usr", "lib", "python3", "dist-packages")
}

// CollectionVersion is the version in its hetzner.hcloud's MANIFEST.json.
func (m Modern) CollectionVersion() (string, error) {
	data, err := os.ReadFile(filepath.Join(m.PythonPath(), "ansible_collections", "hetzner", "hcloud", "MANIFEST.json"))
	if err != nil {
		return "", err
	}
	var man struct {
		CollectionInfo struct {
			Version string `json:"version"`
		} `json:"collection_info"`
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return "", fmt.Errorf("hetzner.hcloud MANIFEST.json: %w", err)
	}
	return man.CollectionInfo.Version, nil
}

// CoreVersion is the version of its ansible-core, from its dist-info directory.
func (m Modern) CoreVersion() string {
	found, _ := filepath.Glob(filepath.Join(m.PythonPath(), "ansible_core-*.dist-info"))
	if len(found) == 0 {
		return "unavailable"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(found[0]), "ansible_core-"), ".dist-info")
}

// Missing says why the toolchain cannot run the modern ways, "" when it can: the bench then
// reports those ways as not run, with this reason, instead of comparing kbv3 with 1.11 alone
// without saying so.
func (m Modern) Missing() string {
	how := "run `make modern-ansible` (the bench target depends on it), or point -modern / " + ModernEnvVar + " at its directory"
	if m.Dir == "" {
		return "the modern toolchain (ansible-core 2.19, hetzner.hcloud 5.x) has no directory: " + how
	}
	if st, err := os.Stat(filepath.Join(m.Bin(), "ansible-playbook")); err != nil || st.Mode()&0o111 == 0 {
		return fmt.Sprintf("the modern toolchain (ansible-core 2.19, hetzner.hcloud 5.x) is missing: no %s: %s", filepath.Join(m.Bin(), "ansible-playbook"), how)
	}
	v, err := m.CollectionVersion()
	if err != nil {
		return fmt.Sprintf("the modern toolchain in %s has no readable hetzner.hcloud (%v): %s", m.Dir, err, how)
	}
	if !strings.HasPrefix(v, "5.") {
		return fmt.Sprintf("the modern toolchain in %s has hetzner.hcloud %s, not 5.x: %s", m.Dir, v, how)
	}
	return ""
}

// Env runs its ansible-playbook with its collections only (the system's hetzner.hcloud 1.11
// left out of the search), keeping the repository's ansible.cfg (forks, inventory); home is
// the run's ANSIBLE_HOME.
func (m Modern) Env(home string) []string {
	return []string{
		"PATH=" + m.Bin() + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PYTHONPATH=" + m.PythonPath(),
		"ANSIBLE_COLLECTIONS_PATH=" + m.PythonPath(),
		"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false",
		"ANSIBLE_HOME=" + home,
	}
}
