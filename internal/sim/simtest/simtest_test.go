package simtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// simproc keeps its own copy of the token so as not to import the simulator; they must agree.
func TestTokenMatchesSimproc(t *testing.T) {
	assert.Equal(t, simtest.Token, simproc.Token)
	assert.Len(t, simtest.Token, 64)
}
