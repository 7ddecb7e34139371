package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunCmdFollowsAndEndsEscapedProcesses(t *testing.T) {
	dir := t.TempDir()
	// The background sleep leaves the process group, as Ansible's async jobs do.
	c := Cmd{Argv: []string{"sh", "-c", "setsid sleep 30 & sleep 0.3; echo done"}, Log: filepath.Join(dir, "log"), Timeout: 20 * time.Second}
	m := RunCmd(context.Background(), c)
	if m.Err != nil || m.ExitCode != 0 {
		t.Fatalf("run: %+v", m)
	}
	if m.Procs < 2 || m.PeakTreeRSS <= 0 || m.MaxRSS <= 0 {
		t.Errorf("measure %+v: want at least 2 processes and some memory", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(liveTagged(m.Tag)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if left := liveTagged(m.Tag); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}

// liveTagged lists the processes carrying tag that are not zombies.
func liveTagged(tag string) []int {
	var live []int
	for _, pid := range taggedPIDs(tag) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && !bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z")) {
			live = append(live, pid)
		}
	}
	return live
}

func TestRunCmdDeadline(t *testing.T) {
	c := Cmd{Argv: []string{"sleep", "30"}, Log: filepath.Join(t.TempDir(), "log"), Timeout: 300 * time.Millisecond}
	start := time.Now()
	m := RunCmd(context.Background(), c)
	if m.Err == nil || !strings.Contains(m.Err.Error(), "deadline") {
		t.Errorf("err %v, want a deadline error", m.Err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}
