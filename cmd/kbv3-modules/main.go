// Command kbv3-modules is the six keybuzz.infra modules in one binary, built once per controller
// platform into plugins/modules/__platforms/<goos>_<goarch> (`make build` for this machine,
// `make collection` for the four platforms the collection ships).
//
// Why one binary: each module is a static Go binary of about 12 MB (hcloud-go brings TLS,
// protobuf and Prometheus), so six per platform would not fit four platforms in Galaxy's 20 MB
// tarball, nor one copy per platform on disk after `ansible-galaxy collection install`.
// modules/<name> keep a thin main each, for building or debugging one module alone.
//
// Which module runs: the collection's action plugin (plugins/action/kbv3_platform.py) sets
// KBV3_MODULE, because Ansible names the executed file and _ansible_module_name after the
// platform binary it runs, not after the task's module. Run by hand, the binary takes the module
// from the args file's _ansible_module_name, else from its own name without Ansible's
// AnsiballZ_ prefix.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keybuzz/kbv3/internal/volumes"
)

// moduleEnv names the module to run; the action plugin sets it for every task.
const moduleEnv = "KBV3_MODULE"

func main() {
	name := moduleName(os.Getenv(moduleEnv), os.Args)
	run, ok := volumes.Modules[name]
	if !ok {
		known := make([]string, 0, len(volumes.Modules))
		for k := range volumes.Modules {
			known = append(known, k)
		}
		sort.Strings(known)
		out, _ := json.Marshal(map[string]any{
			"failed":  true,
			"changed": false,
			"msg": fmt.Sprintf("kbv3-modules: cannot tell which module to run (got %q); set %s or _ansible_module_name to one of: %s",
				name, moduleEnv, strings.Join(known, ", ")),
		})
		fmt.Println(string(out))
		os.Exit(1)
	}
	run()
}

// moduleName is the short name of the module to run: env (KBV3_MODULE, a short name or FQCN),
// else the args file's _ansible_module_name, else the program name without Ansible's AnsiballZ_
// prefix.
func moduleName(env string, args []string) string {
	if env != "" {
		return shortName(env)
	}
	if len(args) > 1 {
		if data, err := os.ReadFile(args[1]); err == nil {
			var a struct {
				Name string `json:"_ansible_module_name"`
			}
			if json.Unmarshal(data, &a) == nil && a.Name != "" {
				return shortName(a.Name)
			}
		}
	}
	return strings.TrimPrefix(filepath.Base(args[0]), "AnsiballZ_")
}

func shortName(name string) string { return name[strings.LastIndex(name, ".")+1:] }
