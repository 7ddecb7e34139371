package volumes

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/ansible"
)

func TestResultMsg(t *testing.T) {
	m := &ansible.Module{Name: "kbv3_test"}
	items := []Item{
		{Volume: "a", Action: "detached", changed: true},
		{Volume: "b", Action: ActionFailed, Error: "boom"},
		{Volume: "c", Action: "detached", changed: true},
		{ID: 7, Action: ActionRefused, Error: "no"},
		{Volume: "e", Action: "absent"},
	}
	r := result(m, items)
	assert.True(t, r.Changed)
	assert.True(t, r.Failed)
	assert.Equal(t, "detached: 2, absent: 1, refused: 1, failed: 1; b (boom); id 7 (no)", r.Msg)
	assert.Equal(t, "no volumes", result(m, nil).Msg)
}
