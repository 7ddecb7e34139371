package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/keybuzz/kbv3/internal/plan"
)

// The API's page size limit and the ids one GET /actions?id=..&id=.. takes (hcloud-go's batch).
const (
	perPage    = 50
	idsPerPoll = 25
)

// Work is what a reset has to do, counted from the reviewed diff and the fleet.
type Work struct {
	Detach, Delete, Create, Attach int
	// VolumesBefore and Servers are listed once for the snapshot; VolumesAfter once to verify.
	VolumesBefore, Servers, VolumesAfter int
}

// WorkOf counts the work of a diff on a fleet: every old volume to delete that is attached is
// detached first; every volume created is attached.
func WorkOf(d *plan.Diff, before *State) Work {
	w := Work{Delete: len(d.Delete), Create: len(d.Create), VolumesBefore: len(before.Volumes), Servers: len(before.Servers)}
	for _, de := range d.Delete {
		if de.Server != "" {
			w.Detach++
		}
	}
	w.Attach = w.Create
	w.VolumesAfter = w.VolumesBefore - w.Delete + w.Create
	return w
}

// Bound is the least a reset can cost with a batch size and the simulator's action times.
//
// Time: the stages run one after the other, each in waves of at most batch operations, and a
// wave lasts at least its action time: sum over stages of ceil(n/batch) × action time. Creating
// is create_volume, attaching attach_volume, detaching detach_volume and deleting delete_volume
// (the simulator holds DELETE for that time). Client start-up and round trips are not in it.
//
// Requests: every mutation once (detach, delete, create, attach); the list pages of one snapshot
// (volumes and servers, 50 a page) and of one final volume list for the verification; and one
// poll per wave of actions, ceil(wave/25) requests since one GET /actions takes 25 ids (deletes
// have no action to wait for). Retries, by-name lookups and polls before an action can have
// finished are all above the bound.
type Bound struct {
	Time                         time.Duration
	Requests                     int
	Mutations, ListPages, Polls  int
	TimeFormula, RequestsFormula string
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// ComputeBound computes the bound of w for batch size batch and action times by command.
func ComputeBound(w Work, batch int, times map[string]time.Duration) Bound {
	if batch < 1 {
		batch = 1
	}
	type stage struct {
		name, command string
		n             int
		polled        bool
	}
	stages := []stage{
		{"detach", "detach_volume", w.Detach, true},
		{"delete", "delete_volume", w.Delete, false},
		{"create", "create_volume", w.Create, true},
		{"attach", "attach_volume", w.Attach, true},
	}
	var b Bound
	var tf, pf []string
	for _, s := range stages {
		if s.n == 0 {
			continue
		}
		waves := ceilDiv(s.n, batch)
		t := times[s.command]
		b.Time += time.Duration(waves) * t
		tf = append(tf, fmt.Sprintf("%s %d×%s", s.name, waves, t))
		b.Mutations += s.n
		if s.polled {
			polls := 0
			for left := s.n; left > 0; left -= batch {
				polls += ceilDiv(min(left, batch), idsPerPoll)
			}
			b.Polls += polls
			pf = append(pf, fmt.Sprintf("%s %d", s.name, polls))
		}
	}
	vb, sv, va := ceilDiv(max(w.VolumesBefore, 1), perPage), ceilDiv(max(w.Servers, 1), perPage), ceilDiv(max(w.VolumesAfter, 1), perPage)
	b.ListPages = vb + sv + va
	b.Requests = b.Mutations + b.ListPages + b.Polls
	if len(tf) == 0 {
		b.TimeFormula = "no action: 0s"
	} else {
		b.TimeFormula = strings.Join(tf, " + ") + " = " + b.Time.String()
	}
	pollText := "0"
	if len(pf) > 0 {
		pollText = strings.Join(pf, " + ")
	}
	b.RequestsFormula = fmt.Sprintf("mutations %d (detach %d, delete %d, create %d, attach %d) + list pages %d (volumes %d, servers %d, final volumes %d) + polls %d (%s) = %d",
		b.Mutations, w.Detach, w.Delete, w.Create, w.Attach, b.ListPages, vb, sv, va, b.Polls, pollText, b.Requests)
	return b
}
