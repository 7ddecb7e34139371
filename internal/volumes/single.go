package volumes

import (
	"github.com/keybuzz/kbv3/internal/plan"
)

// singleProblems checks the single-volume options (name, and server, location and labels where
// the module takes them) with the plan's rules, so that one volume named by hand is held to the
// same standard as a plan entry. Empty options are not checked: each module says which it needs.
func singleProblems(name, server, location string, labels map[string]string) []error {
	var errs []error
	if err := plan.CheckVolumeName(name); err != nil {
		errs = append(errs, err)
	}
	if server != "" {
		if err := plan.CheckServerName(server); err != nil {
			errs = append(errs, err)
		}
	}
	if location != "" {
		if err := plan.CheckLocation(location); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, plan.CheckLabels(labels)...)
}
