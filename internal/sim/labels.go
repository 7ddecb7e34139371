package sim

import (
	"regexp"
	"slices"
	"strings"
)

// This parser and matcher deliberately do not share code with kbv3's own (internal/plan): the
// simulator is an independent oracle, and a differential fuzz test keeps the two in agreement.

// selector is a parsed label_selector: every requirement must hold (comma means AND).
type selector []requirement

type requirement struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

// The API's label rules (docs.hetzner.cloud, "Labels"): a key is an optional DNS-subdomain
// prefix and "/", then a name of 1 to 63 letters, digits, '-', '_' and '.' that starts and ends
// alphanumeric; the prefix hetzner.cloud/ is reserved. A value is empty or like a name.
var (
	labelNameRe  = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$`)
	labelValueRe = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?$`)
	dnsLabelRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

const reservedPrefix = "hetzner.cloud"

func validLabelKey(k string) bool {
	i := strings.LastIndexByte(k, '/')
	if i < 0 {
		return labelNameRe.MatchString(k)
	}
	prefix, name := k[:i], k[i+1:]
	if !labelNameRe.MatchString(name) || len(prefix) > 253 {
		return false
	}
	if prefix == reservedPrefix || strings.HasSuffix(prefix, "."+reservedPrefix) {
		return false
	}
	for _, l := range strings.Split(prefix, ".") {
		if !dnsLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// splitSelector cuts s at the commas outside parentheses; parentheses do not nest.
func splitSelector(s string) ([]string, bool) {
	var terms []string
	open, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			if open {
				return nil, false
			}
			open = true
		case ')':
			if !open {
				return nil, false
			}
			open = false
		case ',':
			if !open {
				terms = append(terms, s[start:i])
				start = i + 1
			}
		}
	}
	if open {
		return nil, false
	}
	return append(terms, s[start:]), true
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// setTerm reads "key in (a,b)" or "key notin (a,b)": a key, ASCII space, the operator, optional
// ASCII space, then the parenthesized values up to the term's end. ok is false for any other
// term.
func setTerm(t string) (req requirement, ok bool) {
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") {
		return requirement{}, false
	}
	head := strings.TrimRightFunc(t[:open], func(r rune) bool { return r < 0x80 && isASCIISpace(byte(r)) })
	var op string
	switch {
	case strings.HasSuffix(head, "notin"):
		op = "notin"
	case strings.HasSuffix(head, "in"):
		op = "in"
	default:
		return requirement{}, false
	}
	key := head[:len(head)-len(op)]
	if key == "" || !isASCIISpace(key[len(key)-1]) {
		return requirement{}, false
	}
	key = strings.TrimRightFunc(key, func(r rune) bool { return r < 0x80 && isASCIISpace(byte(r)) })
	if key == "" || strings.IndexFunc(key, func(r rune) bool { return r < 0x80 && isASCIISpace(byte(r)) }) >= 0 {
		return requirement{}, false
	}
	req = requirement{key: key, op: op}
	for _, v := range strings.Split(t[open+1:len(t)-1], ",") {
		req.values = append(req.values, strings.TrimSpace(v))
	}
	return req, true
}

// parseSelector reads the API's label selector (docs.hetzner.cloud, "Label Selector"): k=v,
// k==v, k!=v, k, !k, k in (a,b) and k notin (a,b), ANDed with commas, keys and values under the
// label rules. A set may not be empty: "k in ()" is refused.
func parseSelector(s string) (selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	bad := errInvalidInput("label_selector", "invalid label selector '"+s+"'")
	terms, ok := splitSelector(s)
	if !ok {
		return nil, bad
	}
	sel := make(selector, 0, len(terms))
	for _, t := range terms {
		t = strings.TrimSpace(t)
		req, isSet := setTerm(t)
		switch {
		case t == "":
			return nil, bad
		case isSet:
			if len(req.values) == 1 && req.values[0] == "" {
				return nil, bad // an empty set
			}
		case strings.Contains(t, "!="):
			k, v, _ := strings.Cut(t, "!=")
			req = requirement{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(t, "=="):
			k, v, _ := strings.Cut(t, "==")
			req = requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(t, "="):
			k, v, _ := strings.Cut(t, "=")
			req = requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.HasPrefix(t, "!"):
			req = requirement{key: strings.TrimSpace(t[1:]), op: "!exists"}
		default:
			req = requirement{key: t, op: "exists"}
		}
		if !validLabelKey(req.key) {
			return nil, bad
		}
		for _, v := range req.values {
			if !labelValueRe.MatchString(v) {
				return nil, bad
			}
		}
		sel = append(sel, req)
	}
	return sel, nil
}

// matches applies the selector as the API documents it: k!=v and k notin (...) speak of the
// value of key k, so they hold only for resources that have k; !k is the one term that selects
// resources without k (evidence in docs/SIMULATOR.md, "Label selectors").
func (sel selector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if !ok || v == r.values[0] {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		case "in":
			if !ok || !slices.Contains(r.values, v) {
				return false
			}
		case "notin":
			if !ok || slices.Contains(r.values, v) {
				return false
			}
		}
	}
	return true
}

// validateLabels applies the API's rules for label keys and values.
func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if !validLabelKey(k) {
			return errInvalidInput("labels", "invalid label key '"+k+"'")
		}
		if !labelValueRe.MatchString(v) {
			return errInvalidInput("labels", "invalid label value '"+v+"'")
		}
	}
	return nil
}
