package sim_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
)

// The simulator keeps its own copy of the API's volume rules, as an independent oracle; these
// tests hold kbv3's (internal/plan) to the same limits, as selector_diff_test.go does for label
// selectors.

func TestVolumeRulesAgreeWithPlan(t *testing.T) {
	assert.Equal(t, plan.MinSizeGB, sim.MinVolumeSize, "smallest volume")
	assert.Equal(t, plan.MaxSizeGB, sim.MaxVolumeSize, "largest volume")

	s, err := sim.New(sim.Config{Scenario: "empty"})
	require.NoError(t, err)
	var locs []string
	for _, l := range s.Store().State().Locations {
		locs = append(locs, l.Name)
	}
	assert.ElementsMatch(t, plan.KnownLocations, locs, "locations")

	for _, name := range []string{
		"vol-db-01", "a", "A.b_c-d", "9", strings.Repeat("a", plan.MaxNameLength),
		strings.Repeat("a", plan.MaxNameLength+1), "", "-a", "a-", "a b", "vol/1", "é", ".a", "a.",
	} {
		assert.Equal(t, plan.CheckVolumeName(name) == nil, sim.ValidVolumeName(name), "volume name %q", name)
	}
}
