// Command kbv3_volume_info is the Ansible module keybuzz.infra.kbv3_volume_info: it lists
// volumes and computes the reset's diff, read-only (plugins/modules/kbv3_volume_info.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.InfoSpec, volumes.Info) }
