package plan

import (
	"fmt"
	"sort"
)

// CheckServerName reports why the API would refuse name as a server name, or nil: the modules
// that take a single volume check their server option with it before any request.
func CheckServerName(name string) error {
	if err := checkHostname(name); err != nil {
		return fmt.Errorf("server %q %w", name, err)
	}
	return nil
}

// CheckLocation reports why loc cannot be a location name, or nil.
func CheckLocation(loc string) error {
	if err := checkLocation(loc); err != nil {
		return fmt.Errorf("location %q %w", loc, err)
	}
	return nil
}

// CheckLabels reports every label the API would refuse, in key order.
func CheckLabels(labels map[string]string) []error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if err := checkLabelKey(k); err != nil {
			errs = append(errs, err)
		}
		if err := checkLabelValue(k, labels[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
