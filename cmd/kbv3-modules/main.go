// Command kbv3-modules is the six keybuzz.infra modules in one binary. `make build` hard-links
// it into plugins/modules/ under each module's name.
//
// Why one binary: each module is a static Go binary of about 12 MB (hcloud-go brings TLS,
// protobuf and Prometheus), so six of them make a 26 MB collection tarball, over Galaxy's
// 20 MB limit; hard links are packed once. modules/<name> keep a thin main each, for building
// or debugging one module alone.
//
// Ansible runs a binary module as `<tmp>/AnsiballZ_<name> <args file>`; the name is taken from
// the args file's _ansible_module_name, else from the program's own name.
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

func main() {
	name := moduleName(os.Args)
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
			"msg":     fmt.Sprintf("kbv3-modules: cannot tell which module to run (got %q); install it under one of: %s", name, strings.Join(known, ", ")),
		})
		fmt.Println(string(out))
		os.Exit(1)
	}
	run()
}

// moduleName reads _ansible_module_name from the args file (it may be a FQCN), falling back on
// the program name without Ansible's AnsiballZ_ prefix.
func moduleName(args []string) string {
	if len(args) > 1 {
		if data, err := os.ReadFile(args[1]); err == nil {
			var a struct {
				Name string `json:"_ansible_module_name"`
			}
			if json.Unmarshal(data, &a) == nil && a.Name != "" {
				return a.Name[strings.LastIndex(a.Name, ".")+1:]
			}
		}
	}
	base := filepath.Base(args[0])
	return strings.TrimPrefix(base, "AnsiballZ_")
}
