package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/plan"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name       string
		sizes      []int
		wantCounts []plan.SizeCount
		wantTotal  int
	}{
		{"nothing", nil, nil, 0},
		{"one", []int{50}, []plan.SizeCount{{50, 1}}, 50},
		{"sorted by size, counted", []int{100, 20, 50, 20, 100, 20}, []plan.SizeCount{{20, 3}, {50, 1}, {100, 2}}, 310},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts, total := plan.Summarize(tt.sizes)
			assert.Equal(t, tt.wantCounts, counts)
			assert.Equal(t, tt.wantTotal, total)
		})
	}
}

func TestSummarizeKeepsInput(t *testing.T) {
	sizes := []int{30, 10, 20}
	plan.Summarize(sizes)
	assert.Equal(t, []int{30, 10, 20}, sizes)
}
