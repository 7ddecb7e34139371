// Package oplog appends the operation log: one JSON line per attempt and outcome of an
// operation on a volume, so that a run that failed or hung can be reconstructed afterwards.
//
// Lines are written with one write(2) each to a file opened with O_APPEND, so concurrent items,
// and concurrent module processes sharing log_path, never interleave within a line.
package oplog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Entry is one line of the log. The JSON keys are a contract (docs/ARCHITECTURE.md).
type Entry struct {
	Time     time.Time `json:"time"`
	Module   string    `json:"module"`
	Volume   string    `json:"volume"`
	ID       int64     `json:"id"`
	Server   string    `json:"server"`
	ActionID int64     `json:"action_id"`
	Outcome  string    `json:"outcome"`
	Attempt  int       `json:"attempt"`
	Error    string    `json:"error"`
	// SizeGB is the volume's size where known (0: not known, e.g. a read of a list).
	SizeGB int `json:"size_gb,omitempty"`
	// DurationMS is the time the operation took until this line, where it sent requests.
	DurationMS int64 `json:"duration_ms,omitempty"`
	// RunID and CheckMode tell which run wrote the line: runs share log_path, and a check-mode
	// run's would_* lines must not be read as changes.
	RunID     string `json:"run_id,omitempty"`
	CheckMode bool   `json:"check_mode"`
}

// Logger appends entries to one file. A nil *Logger discards everything, so callers need no
// "is logging on" checks.
type Logger struct {
	mu      sync.Mutex
	f       *os.File
	module  string
	secrets []string
	now     func() time.Time
	err     error // the first write error, reported by Close
	runID   string
	check   bool
}

// SetRun stamps every later entry with the run's id and whether it is a check-mode run.
func (l *Logger) SetRun(runID string, checkMode bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runID, l.check = runID, checkMode
}

// Open opens (creating it if needed) the log at path for appending. module fills Entry.Module
// when an entry leaves it empty. Every occurrence of a non-empty secret in an entry is replaced
// by "********" before it is written: errors can quote request data, and the token must never
// reach the log.
func Open(path, module string, secrets ...string) (*Logger, error) {
	if path == "" {
		return nil, nil
	}
	// The first module of a run creates the log's directory, so the playbook needs no task
	// (and no Python module start) for it.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log_path: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log_path: %w", err)
	}
	l := &Logger{f: f, module: module, now: time.Now}
	for _, s := range secrets {
		if s != "" {
			l.secrets = append(l.secrets, s)
		}
	}
	return l, nil
}

// Write appends e as one line. Write errors are kept for Close: a full disk must not fail the
// operation being logged.
func (l *Logger) Write(e Entry) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if e.Module == "" {
		e.Module = l.module
	}
	l.mu.Lock()
	e.RunID, e.CheckMode = l.runID, l.check
	l.mu.Unlock()
	b, err := json.Marshal(e)
	if err != nil {
		return // cannot happen: Entry has only plain fields
	}
	line := l.redact(string(b)) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.WriteString(line); err != nil && l.err == nil {
		l.err = err
	}
}

// redact masks secrets in the encoded line: masking the encoding rather than the fields also
// catches a secret that JSON escaping left intact inside a longer string.
func (l *Logger) redact(s string) string {
	for _, secret := range l.secrets {
		s = strings.ReplaceAll(s, secret, "********")
		if enc, err := json.Marshal(secret); err == nil {
			// The escaped form, without its quotes, for secrets holding characters JSON escapes.
			s = strings.ReplaceAll(s, string(enc[1:len(enc)-1]), "********")
		}
	}
	return s
}

// Close closes the file and returns the first error met while writing, if any.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.f.Close()
	if l.err != nil {
		return fmt.Errorf("log_path: %w", l.err)
	}
	if err != nil {
		return fmt.Errorf("log_path: %w", err)
	}
	return nil
}
