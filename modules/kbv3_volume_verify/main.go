// Command kbv3_volume_verify is the Ansible module keybuzz.infra.kbv3_volume_verify: it checks
// the live volumes against the plan, read-only (plugins/modules/kbv3_volume_verify.yml).
package main

import (
	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/volumes"
)

func main() { ansible.Main(volumes.VerifySpec, volumes.Verify) }
