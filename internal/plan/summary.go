package plan

import "slices"

// SizeCount is how many volumes have one size.
type SizeCount struct {
	SizeGB int `json:"size_gb"`
	Count  int `json:"count"`
}

// Summarize counts volumes per size, smallest first, and adds up the total. The verify module
// reports it computed, never copied: the PH3-02 report's own size table does not add up.
func Summarize(sizes []int) (counts []SizeCount, totalGB int) {
	sorted := slices.Sorted(slices.Values(sizes))
	for _, s := range sorted {
		totalGB += s
		if n := len(counts); n > 0 && counts[n-1].SizeGB == s {
			counts[n-1].Count++
			continue
		}
		counts = append(counts, SizeCount{SizeGB: s, Count: 1})
	}
	return counts, totalGB
}
