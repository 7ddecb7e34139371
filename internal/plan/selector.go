package plan

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Selector chooses the live volumes to delete. Names are globs (path.Match: "vol-*",
// "vol-db-?-01"); LabelSelector uses the API's syntax (docs/PLAN.md). A volume is selected when
// it matches at least one glob (or there are none) and the label selector (or there is none).
// An empty selector selects nothing: deleting everything must never be the default.
type Selector struct {
	Names         []string `json:"names,omitempty" mapstructure:"names"`
	LabelSelector string   `json:"label_selector,omitempty" mapstructure:"label_selector"`
}

// Empty reports whether the selector selects nothing.
func (s Selector) Empty() bool {
	return len(s.Names) == 0 && strings.TrimSpace(s.LabelSelector) == ""
}

// Validate reports every bad glob and the label selector's first syntax error.
func (s Selector) Validate() error {
	var errs []error
	for i, n := range s.Names {
		if n == "" {
			errs = append(errs, fmt.Errorf("selector names[%d]: empty pattern", i))
			continue
		}
		if _, err := path.Match(n, ""); err != nil {
			errs = append(errs, fmt.Errorf("selector names[%d] %q: %w", i, n, err))
		}
	}
	if _, err := parseLabelSelector(s.LabelSelector); err != nil {
		errs = append(errs, fmt.Errorf("selector label_selector %q: %w", s.LabelSelector, err))
	}
	return errors.Join(errs...)
}

// Matches reports whether v is selected. An invalid selector matches nothing; call Validate
// first to learn why.
func (s Selector) Matches(v Live) bool {
	if s.Empty() {
		return false
	}
	if len(s.Names) > 0 && !s.matchesName(v.Name) {
		return false
	}
	reqs, err := parseLabelSelector(s.LabelSelector)
	if err != nil {
		return false
	}
	for _, r := range reqs {
		if !r.matches(v.Labels) {
			return false
		}
	}
	return true
}

func (s Selector) matchesName(name string) bool {
	for _, pat := range s.Names {
		if ok, err := path.Match(pat, name); err == nil && ok {
			return true
		}
	}
	return false
}

type labelOp int

const (
	opExists labelOp = iota
	opNotExists
	opEquals
	opNotEquals
	opIn
	opNotIn
)

// requirement is one comma-separated term of a label selector.
type requirement struct {
	key    string
	op     labelOp
	values []string
}

// matches follows the API's documentation: k!=v and k notin (...) describe the value of key k,
// so a volume without k matches neither; only !k selects volumes that lack k (docs/PLAN.md).
func (r requirement) matches(labels map[string]string) bool {
	v, has := labels[r.key]
	switch r.op {
	case opExists:
		return has
	case opNotExists:
		return !has
	case opEquals:
		return has && v == r.values[0]
	case opNotEquals:
		return has && v != r.values[0]
	case opIn:
		return has && slices.Contains(r.values, v)
	case opNotIn:
		return has && !slices.Contains(r.values, v)
	}
	return false
}

// setTermRE is "key in (values)"; (?s) lets the values span lines, as the rest of a term may.
var setTermRE = regexp.MustCompile(`(?s)^(\S+)\s+(in|notin)\s*\((.*)\)$`)

// parseLabelSelector reads the API's label selector syntax: k=v, k==v, k!=v, k, !k,
// k in (a,b), k notin (a,b), ANDed with commas. An empty selector has no requirements.
func parseLabelSelector(sel string) ([]requirement, error) {
	if strings.TrimSpace(sel) == "" {
		return nil, nil
	}
	terms, err := splitTerms(sel)
	if err != nil {
		return nil, err
	}
	reqs := make([]requirement, 0, len(terms))
	for _, t := range terms {
		r, err := parseTerm(strings.TrimSpace(t))
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// splitTerms splits at the commas outside parentheses: "k in (a,b)" is one term.
func splitTerms(sel string) ([]string, error) {
	var terms []string
	depth, start := 0, 0
	for i, c := range sel {
		switch c {
		case '(':
			depth++
			if depth > 1 {
				return nil, errors.New("nested parentheses")
			}
		case ')':
			depth--
			if depth < 0 {
				return nil, errors.New("unbalanced ')'")
			}
		case ',':
			if depth == 0 {
				terms = append(terms, sel[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced '('")
	}
	return append(terms, sel[start:]), nil
}

func parseTerm(t string) (requirement, error) {
	if t == "" {
		return requirement{}, errors.New("empty term (two commas, or a comma at an end)")
	}
	var r requirement
	if m := setTermRE.FindStringSubmatch(t); m != nil {
		r = requirement{key: m[1], op: opIn}
		if m[2] == "notin" {
			r.op = opNotIn
		}
		if strings.TrimSpace(m[3]) == "" {
			return requirement{}, fmt.Errorf("term %q: empty set", t)
		}
		for _, v := range strings.Split(m[3], ",") {
			r.values = append(r.values, strings.TrimSpace(v))
		}
	} else {
		r = parseSimpleTerm(t)
	}
	if err := checkLabelKey(r.key); err != nil {
		return requirement{}, fmt.Errorf("term %q: %w", t, err)
	}
	for _, v := range r.values {
		if err := checkLabelValue(r.key, v); err != nil {
			return requirement{}, fmt.Errorf("term %q: %w", t, err)
		}
	}
	return r, nil
}

func parseSimpleTerm(t string) requirement {
	for _, op := range []struct {
		sep string
		op  labelOp
	}{{"!=", opNotEquals}, {"==", opEquals}, {"=", opEquals}} {
		if k, v, ok := strings.Cut(t, op.sep); ok {
			return requirement{key: strings.TrimSpace(k), op: op.op, values: []string{strings.TrimSpace(v)}}
		}
	}
	if k, ok := strings.CutPrefix(t, "!"); ok {
		return requirement{key: strings.TrimSpace(k), op: opNotExists}
	}
	return requirement{key: t, op: opExists}
}
