package tests

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// TestReliabilityKillAndRerun is the short version of make soak: the reset playbook SIGKILLed at
// a few seeded random moments on the small fleet, rerun after each; every kill must leave the
// fleet safe and every rerun converge. The seed is fixed, so that a failure reproduces;
// KBV3_SOAK_KILLS and KBV3_SOAK_SEED change N and the seed.
func TestReliabilityKillAndRerun(t *testing.T) {
	root := relRoot(t)
	kills, seed := 3, uint64(1)
	if v, err := strconv.Atoi(os.Getenv("KBV3_SOAK_KILLS")); err == nil {
		kills = v
	}
	if v, err := strconv.ParseUint(os.Getenv("KBV3_SOAK_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("%d kills, seed %d (KBV3_SOAK_KILLS, KBV3_SOAK_SEED)", kills, seed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(kills+2)*3*time.Minute)
	defer cancel()
	rep, err := e2e.Soak(ctx, e2e.SoakOptions{Root: root, Dir: t.TempDir(), Fleet: e2e.SmallFleet(), Kills: kills, Seed: seed,
		BatchSize: 2, StageTimeout: 30, Logf: t.Logf})
	if rep != nil {
		t.Log(rep.Summary())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kills {
		if !k.OK() {
			t.Errorf("seed %d: %s", seed, k.String())
		}
	}
}
