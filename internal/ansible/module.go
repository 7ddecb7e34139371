package ansible

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// redacted replaces a secret inside output, as Ansible's remove_values does.
const redacted = "********"

// minSecretLen is the shortest secret scrubbed inside longer strings. A shorter one (a no_log
// "1", "yes") is replaced only where a whole string equals it: scrubbing it everywhere would
// mangle every count and name containing those characters and protect nothing, since so short
// a value is guessed anyway. It stays masked in invocation.module_args either way.
const minSecretLen = 4

// Module is the running module's view of the protocol: the controller's flags, and the
// warnings and secrets that go into the result. Its methods are safe for concurrent use,
// for modules that work on many volumes at once.
type Module struct {
	Name      string // short name
	CheckMode bool   // _ansible_check_mode: report what would change, change nothing
	Diff      bool   // _ansible_diff: the task wants Result.Diff
	Verbosity int    // _ansible_verbosity: the number of -v

	mu       sync.Mutex
	warnings []string
	secrets  []string
	replacer *strings.Replacer // built on first use after the secrets change
}

// Warn adds a warning to the result; Ansible shows it after the task.
func (m *Module) Warn(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

func (m *Module) takeWarnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.warnings
	m.warnings = nil
	return w
}

// AddSecret scrubs s from everything the module prints. Secrets that reach the module outside
// no_log options (a token read from a file) must be added here. Its quoted form is added too,
// since errors often print values with %q.
func (m *Module) AddSecret(s string) {
	if s == "" {
		return
	}
	quoted := strconv.Quote(s)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range []string{s, quoted[1 : len(quoted)-1]} {
		if !slices.Contains(m.secrets, v) {
			m.secrets = append(m.secrets, v)
			m.replacer = nil
		}
	}
}

// Scrub replaces every secret in s with "********" (a short secret only when it is the whole
// of s).
func (m *Module) Scrub(s string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scrub(s)
}

func (m *Module) scrub(s string) string {
	if s == "" || len(m.secrets) == 0 {
		return s
	}
	if slices.Contains(m.secrets, s) {
		return redacted
	}
	if m.replacer == nil {
		long := slices.DeleteFunc(slices.Clone(m.secrets), func(v string) bool {
			return utf8.RuneCountInString(v) < minSecretLen
		})
		// The longest first: a secret containing another is then replaced whole.
		slices.SortFunc(long, func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(long))
		for _, v := range long {
			pairs = append(pairs, v, redacted)
		}
		m.replacer = strings.NewReplacer(pairs...)
	}
	return m.replacer.Replace(s)
}

// render encodes the result once, after turning it into plain JSON values and scrubbing every
// string in it: whatever types the module returned, no secret can escape through a field the
// walk did not know about. Map keys are left alone, as Ansible's remove_values does: they are
// names chosen by the module.
func (m *Module) render(result map[string]any) ([]byte, error) {
	data, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	var plain any
	if err := decodeJSON(data, &plain); err != nil {
		return nil, err
	}
	m.mu.Lock()
	plain = m.scrubValue(plain)
	m.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plain); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (m *Module) scrubValue(v any) any {
	switch v := v.(type) {
	case string:
		return m.scrub(v)
	case json.Number:
		// Ansible masks a number containing a secret (a no_log port, a PIN) as well.
		if m.scrub(string(v)) != string(v) {
			return redacted
		}
	case []any:
		for i, e := range v {
			v[i] = m.scrubValue(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = m.scrubValue(e)
		}
	}
	return v
}
