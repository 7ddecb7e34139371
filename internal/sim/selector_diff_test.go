package sim_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
)

// The simulator keeps its own selector as an independent oracle of the API; these tests hold
// kbv3's (internal/plan) and the simulator's to the same syntax and meaning.

var selectorLabelSets = []map[string]string{
	{"env": "prod", "tier": "db"},
	{"env": "dev"},
	{},
	{"env": ""},
	{"example.com/x": "y", "purpose": "archive"},
}

// planMatch is kbv3's answer for a non-blank selector: valid, and which label sets it selects.
func planMatch(sel string, labels map[string]string) (match, ok bool) {
	s := plan.Selector{LabelSelector: sel}
	if s.Validate() != nil {
		return false, false
	}
	return s.Matches(plan.Live{Name: "v", Labels: labels}), true
}

func TestSelectorsAgree(t *testing.T) {
	tests := []struct {
		sel   string
		valid bool
		want  []bool // per selectorLabelSets
	}{
		{"env=prod", true, []bool{true, false, false, false, false}},
		{"env==dev", true, []bool{false, true, false, false, false}},
		{"env=", true, []bool{false, false, false, true, false}},
		// The API documents k!=v and notin on "the value of key k": a resource without k
		// matches neither; !k selects those.
		{"env!=prod", true, []bool{false, true, false, true, false}},
		{"env notin (prod,dev)", true, []bool{false, false, false, true, false}},
		{"!env", true, []bool{false, false, true, false, true}},
		{"env", true, []bool{true, true, false, true, false}},
		{"env in (prod, dev)", true, []bool{true, true, false, false, false}},
		{"env in(prod)", true, []bool{true, false, false, false, false}},
		{"env\tin (prod)", true, []bool{true, false, false, false, false}},
		{"env in (,)", true, []bool{false, false, false, true, false}},
		{"env in (prod,\n dev)", true, []bool{true, true, false, false, false}},
		{"env=prod, tier=db", true, []bool{true, false, false, false, false}},
		{"env,!tier", true, []bool{false, true, false, true, false}},
		{"example.com/x=y", true, []bool{false, false, false, false, true}},
		{"example.com/x notin (z)", true, []bool{false, false, false, false, true}},
		// Key syntax: the label rules, for both.
		{"Example.com/x=y", false, nil},
		{"hetzner.cloud/x=y", false, nil},
		{"sub.hetzner.cloud/x", false, nil},
		{"a in ()", false, nil},
		{"a in ( )", false, nil},
		{"a in (b", false, nil},
		{"a in ((b))", false, nil},
		{"a,,b", false, nil},
		{"a=b,", false, nil},
		{"my key=b", false, nil},
		{"a=b=c", false, nil},
		{"a in (b=c)", false, nil},
		{"!", false, nil},
		{"/x=y", false, nil},
		{"a/b/c", false, nil},
		{"ainb (c)", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			for i, labels := range selectorLabelSets {
				pm, pok := planMatch(tt.sel, labels)
				sm, sok := sim.MatchSelector(tt.sel, labels)
				require.Equal(t, tt.valid, pok, "kbv3 validity")
				require.Equal(t, tt.valid, sok, "simulator validity")
				if tt.valid {
					assert.Equal(t, tt.want[i], pm, "kbv3 on %v", labels)
					assert.Equal(t, tt.want[i], sm, "simulator on %v", labels)
				}
			}
		})
	}
}

// FuzzSelectorsAgree runs both parsers and matchers on the same selector and label set and
// requires the same verdict. labels is "k=v;k=v"; pairs that are not valid labels are dropped,
// since no resource can carry them.
func FuzzSelectorsAgree(f *testing.F) {
	for _, s := range []string{
		"env=prod", "env!=prod", "!env", "env", "env in (a,b)", "env notin (a, b)", "a in ()",
		"Example.com/x=y", "hetzner.cloud/x=y", "example.com/x==y,!z", "a in(b)", "a\tnotin\t(b,\nc)",
		"a=b,,c", "a in ((b))", "k==", " k ", "a=b=c", "x in (y) z",
	} {
		f.Add(s, "env=prod;tier=db;example.com/x=y;k=")
	}
	f.Fuzz(func(t *testing.T, sel, rawLabels string) {
		if strings.TrimSpace(sel) == "" {
			return // kbv3 selects nothing with a blank selector, by design; the API everything
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(rawLabels, ";") {
			k, v, _ := strings.Cut(kv, "=")
			if _, ok := sim.MatchSelector("!"+k, nil); ok && (v == "" || planValueOK(k, v)) {
				labels[k] = v
			}
		}
		pm, pok := planMatch(sel, labels)
		sm, sok := sim.MatchSelector(sel, labels)
		if pok != sok {
			t.Fatalf("selector %q: kbv3 valid=%v, simulator valid=%v", sel, pok, sok)
		}
		if pm != sm {
			t.Fatalf("selector %q on %v: kbv3 %v, simulator %v", sel, labels, pm, sm)
		}
	})
}

// planValueOK asks kbv3 whether v is a valid label value, through a selector that holds it.
func planValueOK(k, v string) bool {
	return plan.Selector{LabelSelector: k + "=" + v}.Validate() == nil
}
