package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/keybuzz/kbv3/internal/oplog"
)

// ReadOplog reads the operation log; a missing file is empty.
func ReadOplog(path string) ([]oplog.Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []oplog.Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e oplog.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("%s: line %d is not an entry: %w", path, len(out)+1, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Retries counts the log's retry lines and the highest attempt number seen.
func Retries(entries []oplog.Entry) (retries, maxAttempt int) {
	for _, e := range entries {
		if e.Outcome == "retry" {
			retries++
		}
		if e.Attempt > maxAttempt {
			maxAttempt = e.Attempt
		}
	}
	return retries, maxAttempt
}

// FailedLines are the failed tasks and items of a run's output (the account a person reads),
// one line each: the task's header line and its result's msg. The default callback prints a
// result on the header line or, with -v and more, as indented JSON on the lines after it.
func FailedLines(out string) []string {
	var lines []string
	all := strings.Split(out, "\n")
	for i := 0; i < len(all); i++ {
		l := all[i]
		if !strings.HasPrefix(l, "failed: ") && !strings.HasPrefix(l, "fatal: ") {
			continue
		}
		head, body, found := strings.Cut(l, " => ")
		if found && strings.TrimSpace(body) == "{" {
			var b strings.Builder
			b.WriteString("{")
			for i++; i < len(all); i++ {
				b.WriteString(all[i])
				if all[i] == "}" {
					break
				}
			}
			body = b.String()
		}
		var res struct {
			Msg any `json:"msg"`
		}
		if found && json.Unmarshal([]byte(body), &res) == nil && res.Msg != nil {
			lines = append(lines, fmt.Sprintf("%s => %v", head, res.Msg))
		} else {
			lines = append(lines, l)
		}
	}
	return lines
}

// Names returns the sorted names among candidates that occur in s.
func Names(s string, candidates []string) []string {
	var out []string
	for _, c := range candidates {
		if strings.Contains(s, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
