// Command kbv3_volume_attach is the Ansible binary module keybuzz.infra.kbv3_volume_attach
// (plugins/modules/kbv3_volume_attach.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.AttachSpec, volumes.Attach) }
