package volumes

import "github.com/keybuzz/kbv3/internal/ansible"

// Modules maps each module's short name to its whole process, for cmd/kbv3-modules: the six
// modules ship as one binary installed under six names (see that command for why).
var Modules = map[string]func(){
	DetachSpec.Name: func() { ansible.Main(DetachSpec, Detach) },
	DeleteSpec.Name: func() { ansible.Main(DeleteSpec, Delete) },
	CreateSpec.Name: func() { ansible.Main(CreateSpec, Create) },
	AttachSpec.Name: func() { ansible.Main(AttachSpec, Attach) },
	VerifySpec.Name: func() { ansible.Main(VerifySpec, Verify) },
	InfoSpec.Name:   func() { ansible.Main(InfoSpec, Info) },
}
