// Command kbv3_volume_delete is the Ansible binary module keybuzz.infra.kbv3_volume_delete
// (plugins/modules/kbv3_volume_delete.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.DeleteSpec, volumes.Delete) }
