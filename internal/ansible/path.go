package ansible

import (
	"os/user"
	"regexp"
	"strings"
)

// varRE is what Python's os.path.expandvars replaces: $name or ${anything}.
var varRE = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

// expandPaths applies Ansible's path type to a converted str or list of str:
// os.path.expanduser(os.path.expandvars(value)), with the module's environment.
func (d *decoder) expandPaths(v any) any {
	switch v := v.(type) {
	case string:
		return d.expandPath(v)
	case []any:
		for i, e := range v {
			if s, ok := e.(string); ok {
				v[i] = d.expandPath(s)
			}
		}
	}
	return v
}

func (d *decoder) expandPath(p string) string {
	// expandvars leaves a variable that is not set as it is, unlike os.Expand.
	p = varRE.ReplaceAllStringFunc(p, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(m[1:], "{"), "}")
		// A variable set to "" reads as unset here (the decoder's env cannot tell them apart),
		// so it stays as written; expandvars would remove it.
		if v := d.env(name); v != "" {
			return v
		}
		return m
	})
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		home = d.env("HOME")
		if home == "" {
			if u, err := user.Current(); err == nil {
				home = u.HomeDir
			}
		}
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return p // expanduser leaves what it cannot resolve
	}
	if rest == "" && !strings.Contains(p, "/") {
		return home
	}
	return strings.TrimSuffix(home, "/") + "/" + rest
}
