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
