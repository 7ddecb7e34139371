package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/plan"
)

func TestSelectorMatches(t *testing.T) {
	old := plan.Live{ID: 1, Name: "vol-db-master-01", Labels: map[string]string{"env": "prod", "tier": "db"}}
	bare := plan.Live{ID: 2, Name: "vol-minio-01"}
	other := plan.Live{ID: 3, Name: "scratch", Labels: map[string]string{"env": "dev"}}
	tests := []struct {
		name string
		sel  plan.Selector
		want []bool // old, bare, other
	}{
		{"empty selects nothing", plan.Selector{}, []bool{false, false, false}},
		{"blank label selector selects nothing", plan.Selector{LabelSelector: "  "}, []bool{false, false, false}},
		{"glob", plan.Selector{Names: []string{"vol-*"}}, []bool{true, true, false}},
		{"glob with ?", plan.Selector{Names: []string{"vol-db-master-0?"}}, []bool{true, false, false}},
		{"glob with a class", plan.Selector{Names: []string{"vol-[dm]*"}}, []bool{true, true, false}},
		{"globs are ORed", plan.Selector{Names: []string{"scratch", "vol-minio-*"}}, []bool{false, true, true}},
		{"glob is anchored", plan.Selector{Names: []string{"db"}}, []bool{false, false, false}},
		{"equals", plan.Selector{LabelSelector: "env=prod"}, []bool{true, false, false}},
		{"double equals", plan.Selector{LabelSelector: "env==dev"}, []bool{false, false, true}},
		{"not equals needs the key", plan.Selector{LabelSelector: "env!=prod"}, []bool{false, false, true}},
		{"not equals or no key", plan.Selector{LabelSelector: "!env"}, []bool{false, true, false}},
		{"exists", plan.Selector{LabelSelector: "env"}, []bool{true, false, true}},
		{"not exists", plan.Selector{LabelSelector: "!env"}, []bool{false, true, false}},
		{"in", plan.Selector{LabelSelector: "env in (prod, staging)"}, []bool{true, false, false}},
		{"notin needs the key", plan.Selector{LabelSelector: "env notin (prod)"}, []bool{false, false, true}},
		{"notin of every value", plan.Selector{LabelSelector: "env notin (prod,dev)"}, []bool{false, false, false}},
		{"terms are ANDed", plan.Selector{LabelSelector: "env=prod,tier=db"}, []bool{true, false, false}},
		{"terms are ANDed, one fails", plan.Selector{LabelSelector: "env=prod, tier=web"}, []bool{false, false, false}},
		{"commas inside a set", plan.Selector{LabelSelector: "env in (dev,prod),!missing"}, []bool{true, false, true}},
		{"names and labels are ANDed", plan.Selector{Names: []string{"vol-*"}, LabelSelector: "env"}, []bool{true, false, false}},
		{"invalid selector selects nothing", plan.Selector{Names: []string{"vol-*"}, LabelSelector: "env in (prod"}, []bool{false, false, false}},
		{"invalid glob selects nothing", plan.Selector{Names: []string{"vol-["}}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{tt.sel.Matches(old), tt.sel.Matches(bare), tt.sel.Matches(other)}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSelectorEmpty(t *testing.T) {
	assert.True(t, plan.Selector{}.Empty())
	assert.True(t, plan.Selector{Names: []string{}, LabelSelector: " "}.Empty())
	assert.False(t, plan.Selector{Names: []string{"vol-*"}}.Empty())
	assert.False(t, plan.Selector{LabelSelector: "env"}.Empty())
}

func TestSelectorValidate(t *testing.T) {
	tests := []struct {
		name string
		sel  plan.Selector
		want []string
	}{
		{"empty is valid", plan.Selector{}, nil},
		{"valid", plan.Selector{Names: []string{"vol-*", "old-?", "x[0-9]"}, LabelSelector: "a=b, c!=d, e, !f, g in (h,i), j notin (k), example.com/l==m"}, nil},
		{"bad globs", plan.Selector{Names: []string{"vol-[", "", "ok-*"}}, []string{
			`selector names[0] "vol-[": syntax error in pattern`,
			`selector names[1]: empty pattern`,
		}},
		{"empty term", plan.Selector{LabelSelector: "a=b,,c"}, []string{
			`selector label_selector "a=b,,c": empty term (two commas, or a comma at an end)`,
		}},
		{"trailing comma", plan.Selector{LabelSelector: "a=b,"}, []string{
			`selector label_selector "a=b,": empty term (two commas, or a comma at an end)`,
		}},
		{"unbalanced", plan.Selector{LabelSelector: "a in (b"}, []string{
			`selector label_selector "a in (b": unbalanced '('`,
		}},
		{"unbalanced close", plan.Selector{LabelSelector: "a in b)"}, []string{
			`selector label_selector "a in b)": unbalanced ')'`,
		}},
		{"nested", plan.Selector{LabelSelector: "a in ((b))"}, []string{
			`selector label_selector "a in ((b))": nested parentheses`,
		}},
		{"empty set", plan.Selector{LabelSelector: "a in ()"}, []string{
			`selector label_selector "a in ()": term "a in ()": empty set`,
		}},
		{"bad key", plan.Selector{LabelSelector: "my key=b"}, []string{
			`selector label_selector "my key=b": term "my key=b": label key "my key": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
		{"bad value", plan.Selector{LabelSelector: "a=b=c"}, []string{
			`selector label_selector "a=b=c": term "a=b=c": label "a": value "b=c" must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
		{"bad value in a set", plan.Selector{LabelSelector: "a in (b, -c)"}, []string{
			`selector label_selector "a in (b, -c)": term "a in (b, -c)": label "a": value "-c" must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
		{"garbage after a set", plan.Selector{LabelSelector: "a in (b) c"}, []string{
			`selector label_selector "a in (b) c": term "a in (b) c": label key "a in (b) c": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
		{"both", plan.Selector{Names: []string{"["}, LabelSelector: "!"}, []string{
			`selector names[0] "[": syntax error in pattern`,
			`selector label_selector "!": term "!": label key "": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problems(tt.sel.Validate()))
		})
	}
}
