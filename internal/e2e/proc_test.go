package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRecap(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      Recap
	}{
		{"no recap", "TASK [x] ***\nok: [localhost]\n", Recap{}},
		{"one host", "PLAY RECAP ***\nlocalhost                  : ok=9    changed=4    unreachable=0    failed=0    skipped=1    rescued=0    ignored=2   \n",
			Recap{"localhost": {OK: 9, Changed: 4, Skipped: 1, Ignored: 2}}},
		{"without rescued and ignored", "PLAY RECAP\nweb-01 : ok=1 changed=0 unreachable=1 failed=1 skipped=0\n",
			Recap{"web-01": {OK: 1, Unreachable: 1, Failed: 1}}},
		{"the last recap counts", "PLAY RECAP\na : ok=1 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0\n" +
			"PLAY RECAP\nb : ok=2 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0\n" +
			"c : ok=3 changed=0 unreachable=0 failed=0 skipped=0 rescued=1 ignored=0\n",
			Recap{"b": {OK: 2, Failed: 1}, "c": {OK: 3, Rescued: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parseRecap(tc.out)
			assert.Equal(t, tc.want, r)
			var total Counts
			for _, c := range tc.want {
				total.OK += c.OK
				total.Failed += c.Failed
			}
			assert.Equal(t, total.OK, r.Total().OK)
			assert.Equal(t, total.Failed, r.Total().Failed)
		})
	}
}

func TestMergeEnvDropsInheritedAnsibleAndAPISettings(t *testing.T) {
	got := mergeEnv(
		[]string{"PATH=/bin", "ANSIBLE_CONFIG=/home/ansible.cfg", "HCLOUD_TOKEN=real", "KBV3_RECORD=x", "HOME=/root"},
		[]string{"HCLOUD_TOKEN=sim", "ANSIBLE_NOCOLOR=1", "HOME=/tmp", "ANSIBLE_CONFIG=", "ANSIBLE_NOCOLOR=0"})
	assert.Equal(t, []string{"PATH=/bin", "HOME=/tmp", "HCLOUD_TOKEN=sim", "ANSIBLE_NOCOLOR=0"}, got)
}

// fakeAnsible puts an ansible-playbook first on PATH that runs script (sh).
func fakeAnsible(t *testing.T, script string) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ansible-playbook"), []byte("#!/bin/sh\n"+script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// A playbook that starts its stage and then hangs, with a worker in its process group.
const hangingPlay = `echo "TASK [Stage 0, check] ***"
echo "TASK [Stage 1, detach the old volumes] ***"
sleep 600 >/dev/null 2>&1 &
echo $! > "$WORKER"
wait
`

func TestPlaybookKills(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		script                   string
		opts                     PlaybookOptions
		succeeded, killed, dline bool
		groupLeft                bool // the worker outlives the run (a leader-only kill)
	}{
		{name: "ends by itself", script: "echo 'TASK [Stage 1, x] ***'\necho 'PLAY RECAP ***'\necho 'localhost : ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0'\n",
			opts: PlaybookOptions{Deadline: time.Minute}, succeeded: true},
		{name: "deadline", script: hangingPlay, opts: PlaybookOptions{Deadline: 300 * time.Millisecond}, killed: true, dline: true},
		{name: "killed in a stage", script: hangingPlay, opts: PlaybookOptions{Deadline: time.Minute, KillInTask: "Stage 1"}, killed: true},
		{name: "killed after a while", script: hangingPlay, opts: PlaybookOptions{Deadline: time.Minute, KillAfter: 100 * time.Millisecond}, killed: true},
		{name: "leader only", script: hangingPlay, opts: PlaybookOptions{Deadline: time.Minute, KillInTask: "Stage 1", KillLeaderOnly: true},
			killed: true, groupLeft: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeAnsible(t, tc.script)
			dir := t.TempDir()
			worker := filepath.Join(dir, "worker.pid")
			w, err := NewWorkspace(dir, SmallFleet())
			require.NoError(t, err)
			tc.opts.Root = dir
			tc.opts.Env = []string{"WORKER=" + worker}
			r, err := w.Playbook(context.Background(), tc.opts)
			require.NoError(t, err)
			t.Cleanup(r.KillGroup)
			assert.Equal(t, tc.succeeded, r.Succeeded(), r.Output)
			assert.Equal(t, tc.killed, r.Killed)
			assert.Equal(t, tc.dline, r.Deadline)
			if tc.killed {
				assert.Equal(t, -1, r.Code, "a signal ended it")
				assert.Empty(t, r.Recap)
			}
			require.NotEmpty(t, r.TaskStarts)
			assert.Contains(t, r.Args, "-i")
			// Whether the worker the play started is still there: only a leader-only kill leaves it.
			if _, err := os.Stat(worker); err == nil {
				alive := groupAlive(r.PGID)
				// A SIGKILL is delivered by the time the process next runs: give it that moment.
				for i := 0; alive && !tc.groupLeft && i < 100; i++ {
					time.Sleep(20 * time.Millisecond)
					alive = groupAlive(r.PGID)
				}
				assert.Equal(t, tc.groupLeft, alive, "the play's process group is still running")
			}
		})
	}
}

// groupAlive says whether a process of group pgid is running (an exited one not yet reaped
// still answers kill -0: /proc tells them apart).
func groupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid, pgrp int
		if n, _ := fmt.Sscan(string(stat[i+1:]), &state, &ppid, &pgrp); n == 3 && pgrp == pgid && state != "Z" {
			return true
		}
	}
	return false
}
