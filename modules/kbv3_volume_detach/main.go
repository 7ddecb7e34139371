// Command kbv3_volume_detach is the Ansible binary module keybuzz.infra.kbv3_volume_detach
// (plugins/modules/kbv3_volume_detach.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.DetachSpec, volumes.Detach) }
