package sim

// MatchSelector exposes the simulator's label selector to the differential tests of package
// sim_test: ok is false when the API would refuse the selector.
func MatchSelector(sel string, labels map[string]string) (match, ok bool) {
	s, err := parseSelector(sel)
	if err != nil {
		return false, false
	}
	return s.matches(labels), true
}

// ValidVolumeName exposes the simulator's volume name rule to the differential tests.
func ValidVolumeName(name string) bool { return validateVolumeName(name) == nil }
