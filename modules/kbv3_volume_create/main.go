// Command kbv3_volume_create is the Ansible binary module keybuzz.infra.kbv3_volume_create
// (plugins/modules/kbv3_volume_create.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.CreateSpec, volumes.Create) }
