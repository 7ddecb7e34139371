package plan

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// API limits for volumes (docs/PLAN.md cites them; the API rejects anything outside).
const (
	MinSizeGB     = 10
	MaxSizeGB     = 10240
	MaxNameLength = 64
)

// KnownLocations are the Hetzner locations at the time of writing. Validation accepts any name
// of the same shape, because Hetzner adds locations and the API is the authority on which exist.
var KnownLocations = []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}

var (
	// A location name is lowercase letters and digits ("fsn1"): catches "FSN1" and "fsn-1" early.
	locationRE = regexp.MustCompile(`^[a-z0-9]+$`)
	// RFC 1123 host label, the rule the API applies to server names.
	hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	// Label key name and label value: alphanumerics at both ends, "-", "_", "." between, at
	// most 63 characters (the API's pattern for values; the key name follows the same rule).
	labelNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)
	// A DNS label of a label key's prefix.
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// reservedLabelPrefix belongs to Hetzner: the API refuses keys under it.
const reservedLabelPrefix = "hetzner.cloud"

// checkVolumeName applies the API's rule for volume names.
func checkVolumeName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > MaxNameLength:
		return fmt.Errorf("is %d characters long, the API allows at most %d", len(name), MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("has %q at position %d: only letters, digits, '-', '_' and '.' are allowed", rune(c), i+1)
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return fmt.Errorf("must start and end with a letter or digit")
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkHostname applies RFC 1123, which the API requires of server names: a plan hostname that
// breaks it cannot name a server, so the entry could never be attached.
func checkHostname(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("is %d characters long, a hostname has at most 253", len(h))
	}
	for _, l := range strings.Split(h, ".") {
		if !hostLabelRE.MatchString(l) {
			return fmt.Errorf("is not a valid server name (RFC 1123: letters, digits and '-' in dot-separated parts of at most 63, not starting or ending with '-')")
		}
	}
	return nil
}

func checkLocation(loc string) error {
	if !locationRE.MatchString(loc) {
		return fmt.Errorf("is not a location name: lowercase letters and digits only (known: %s)", strings.Join(KnownLocations, ", "))
	}
	return nil
}

// checkLabelKey applies the API's rule: an optional DNS-subdomain prefix and "/", then a name.
func checkLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if !labelNameRE.MatchString(name) {
		return fmt.Errorf("label key %q: the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k)
	}
	if !hasPrefix {
		return nil
	}
	if prefix == reservedLabelPrefix || strings.HasSuffix(prefix, "."+reservedLabelPrefix) {
		return fmt.Errorf("label key %q: the prefix %q is reserved by Hetzner", k, prefix+"/")
	}
	if len(prefix) > 253 {
		return fmt.Errorf("label key %q: the prefix is longer than 253 characters", k)
	}
	for _, l := range strings.Split(prefix, ".") {
		if !dnsLabelRE.MatchString(l) {
			return fmt.Errorf("label key %q: the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')", k)
		}
	}
	return nil
}

func checkLabelValue(k, v string) error {
	if v != "" && !labelNameRE.MatchString(v) {
		return fmt.Errorf("label %q: value %q must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k, v)
	}
	return nil
}

// checkMountpoint keeps PH3-03's fstab and mkdir safe: an absolute, clean path other than "/"
// with no whitespace (fstab separates fields with it).
func checkMountpoint(m string) error {
	switch {
	case !path.IsAbs(m):
		return fmt.Errorf("mountpoint %q is not an absolute path", m)
	case strings.ContainsAny(m, " \t\n\r\v\f"):
		return fmt.Errorf("mountpoint %q contains whitespace", m)
	case m == "/":
		return fmt.Errorf("mountpoint %q is the root directory", m)
	case path.Clean(m) != m:
		return fmt.Errorf("mountpoint %q is not a clean path (want %q)", m, path.Clean(m))
	}
	return nil
}

// CheckVolumeName reports why the API would refuse name as a volume name, or nil; the modules
// check names given outside a plan (detach and delete lists) with it before any request.
func CheckVolumeName(name string) error {
	if err := checkVolumeName(name); err != nil {
		return fmt.Errorf("volume name %q %w", name, err)
	}
	return nil
}
