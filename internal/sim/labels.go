package sim

import (
	"regexp"
	"slices"
	"strings"
)

// selector is a parsed label_selector: every requirement must hold (comma means AND).
type selector []requirement

type requirement struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

var labelKeyRe = regexp.MustCompile(`^([a-z0-9A-Z]([a-z0-9A-Z.-]{0,251}[a-z0-9A-Z])?/)?[a-z0-9A-Z]([a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])?$`)
var labelValueRe = regexp.MustCompile(`^(|[a-z0-9A-Z]|[a-z0-9A-Z][a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])$`)

// parseSelector understands k=v, k==v, k!=v, k, !k, k in (a,b) and k notin (a,b).
func parseSelector(s string) (selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	bad := errInvalidInput("label_selector", "invalid label selector '"+s+"'")
	var terms []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				terms = append(terms, s[start:i])
				start = i + 1
			}
		}
	}
	terms = append(terms, s[start:])
	sel := make(selector, 0, len(terms))
	for _, t := range terms {
		t = strings.TrimSpace(t)
		var req requirement
		switch {
		case strings.HasPrefix(t, "!"):
			req = requirement{key: strings.TrimSpace(t[1:]), op: "!exists"}
		case strings.Contains(t, "!="):
			k, v, _ := strings.Cut(t, "!=")
			req = requirement{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(t, "=="):
			k, v, _ := strings.Cut(t, "==")
			req = requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(t, "="):
			k, v, _ := strings.Cut(t, "=")
			req = requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.HasSuffix(t, ")") && (strings.Contains(t, " in ") || strings.Contains(t, " notin ")):
			op := "in"
			k, rest, ok := strings.Cut(t, " notin ")
			if ok {
				op = "notin"
			} else {
				k, rest, _ = strings.Cut(t, " in ")
			}
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") {
				return nil, bad
			}
			var vals []string
			for v := range strings.SplitSeq(rest[1:len(rest)-1], ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
			req = requirement{key: strings.TrimSpace(k), op: op, values: vals}
		default:
			req = requirement{key: t, op: "exists"}
		}
		if !labelKeyRe.MatchString(req.key) {
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

func (sel selector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if ok && v == r.values[0] {
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
			if ok && slices.Contains(r.values, v) {
				return false
			}
		}
	}
	return true
}

// validateLabels applies the API's rules for label keys and values.
func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if !labelKeyRe.MatchString(k) {
			return errInvalidInput("labels", "invalid label key '"+k+"'")
		}
		if !labelValueRe.MatchString(v) {
			return errInvalidInput("labels", "invalid label value '"+v+"'")
		}
	}
	return nil
}
