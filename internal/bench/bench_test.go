package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

var defaultTimes = map[string]time.Duration{
	"create_volume": time.Second, "attach_volume": 3 * time.Second, "detach_volume": 3 * time.Second,
	"delete_volume": 300 * time.Millisecond,
}

func TestComputeBoundPH302(t *testing.T) {
	w := Work{Detach: 40, Delete: 40, Create: 47, Attach: 47, VolumesBefore: 41, Servers: 47, VolumesAfter: 48}
	b := ComputeBound(w, 10, defaultTimes)
	if b.Time != 33200*time.Millisecond {
		t.Errorf("time bound %s, want 33.2s (%s)", b.Time, b.TimeFormula)
	}
	// 174 mutations, 3 list pages, polls 4+5+5.
	if b.Mutations != 174 || b.ListPages != 3 || b.Polls != 14 || b.Requests != 191 {
		t.Errorf("request bound %+v, want 174+3+14=191", b)
	}
}

func TestComputeBoundLargeBatchesAndPages(t *testing.T) {
	w := Work{Detach: 500, Delete: 500, Create: 500, Attach: 500, VolumesBefore: 500, Servers: 500, VolumesAfter: 500}
	b := ComputeBound(w, 60, defaultTimes)
	// 9 waves per stage; a wave of 60 ids needs 3 polls, the last wave of 20 one: 8*3+1 = 25.
	if b.Polls != 3*25 || b.ListPages != 30 || b.Mutations != 2000 {
		t.Errorf("bound %+v", b)
	}
	if want := 9 * (3*time.Second + 300*time.Millisecond + time.Second + 3*time.Second); b.Time != want {
		t.Errorf("time %s, want %s", b.Time, want)
	}
	if nb := ComputeBound(Work{VolumesBefore: 48, Servers: 47, VolumesAfter: 48}, 10, defaultTimes); nb.Requests != 3 || nb.Time != 0 {
		t.Errorf("no-op bound %+v, want 3 requests and no time", nb)
	}
}

func TestKindOf(t *testing.T) {
	for route, want := range map[string]string{
		"POST /v1/volumes":                      kindMutation,
		"DELETE /v1/volumes/{id}":               kindMutation,
		"POST /v1/volumes/{id}/actions/attach":  kindMutation,
		"GET /v1/volumes":                       kindVolume,
		"GET /v1/volumes/{id}":                  kindVolume,
		"GET /v1/volumes/{id}/actions/{action}": kindPoll,
		"GET /v1/actions":                       kindPoll,
		"GET /v1/actions/{id}":                  kindPoll,
		"GET /v1/servers":                       kindServer,
		"GET /v1/locations":                     kindOther,
		"GET (unknown route)":                   kindOther,
	} {
		if got := KindOf(route); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", route, got, want)
		}
	}
}

func ptr(i int64) *int64 { return &i }

func fleet() (*plan.Plan, *State) {
	p := plan.New([]plan.Entry{{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", SizeGB: 50}})
	st := &State{}
	for i, n := range []string{"a-01", "b-01"} {
		s := simproc.Server{ID: int64(i + 1), Name: n}
		s.Datacenter.Location.Name = "fsn1"
		st.Servers = append(st.Servers, s)
	}
	vol := func(id int64, name string, size int, server *int64) schema.Volume {
		v := schema.Volume{ID: id, Name: name, Size: size, Server: server}
		v.Location.Name = "fsn1"
		return v
	}
	st.Volumes = []schema.Volume{vol(10, "vol-a-01", 20, ptr(1)), vol(11, "archive", 100, ptr(2))}
	return p, st
}

func TestVerifyPlan(t *testing.T) {
	p, before := fleet()
	d, err := plan.Compute(p, before.Live(), before.ServerLocations(), plan.Selector{Names: DeletePatterns})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Delete) != 1 || len(d.Create) != 2 {
		t.Fatalf("diff %+v", d)
	}
	if w := WorkOf(d, before); w.Detach != 1 || w.Delete != 1 || w.Create != 2 || w.Attach != 2 || w.VolumesAfter != 3 {
		t.Errorf("work %+v", w)
	}
	good := &State{Servers: before.Servers}
	good.Volumes = []schema.Volume{before.Volumes[1]}
	for i, e := range p.Volumes {
		v := schema.Volume{ID: int64(20 + i), Name: e.Name(), Size: e.SizeGB, Server: ptr(int64(i + 1))}
		v.Location.Name = "fsn1"
		good.Volumes = append(good.Volumes, v)
	}
	if probs := VerifyPlan(p, d, before, good); len(probs) != 0 {
		t.Errorf("right fleet: %v", probs)
	}

	bad := &State{Servers: before.Servers}
	bad.Volumes = append(bad.Volumes, good.Volumes...)
	bad.Volumes[0].Size = 200                            // archive touched
	bad.Volumes[1].Server = nil                          // kbv3-a-01-data detached
	bad.Volumes[2].Size = 10                             // kbv3-b-01-data too small
	bad.Volumes = append(bad.Volumes, before.Volumes[0]) // vol-a-01 left
	probs := strings.Join(VerifyPlan(p, d, before, bad), "\n")
	for _, want := range []string{"volume archive (id 11) changed", `kbv3-a-01-data: attached to ""`, "kbv3-b-01-data: size 10 GB, plan 50", "old volume vol-a-01 (id 10"} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems lack %q:\n%s", want, probs)
		}
	}
	if probs := VerifyUnchanged(before, before); len(probs) != 0 {
		t.Errorf("unchanged: %v", probs)
	}
	if probs := VerifyUnchanged(before, good); len(probs) == 0 {
		t.Error("a changed fleet passes VerifyUnchanged")
	}
}

func TestParseStat(t *testing.T) {
	stat := []byte("1234 (ansible-playbook (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 777 12345678 4096 18446744073709551615")
	key, rss, ok := parseStat("1234", stat)
	if !ok || key != "1234/777" || rss != 4096 {
		t.Errorf("parseStat = %q, %d, %v", key, rss, ok)
	}
}

func TestShellQuote(t *testing.T) {
	c := Cmd{Argv: []string{"ansible-playbook", "-e", "@/tmp/x y/vars.json", "it's"}}
	if got, want := c.String(), `ansible-playbook -e '@/tmp/x y/vars.json' 'it'\''s'`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestMissedReading(t *testing.T) {
	work := Work{Detach: 40, Delete: 40, Create: 47, Attach: 47, VolumesBefore: 41, Servers: 47, VolumesAfter: 48}
	way := func(name string, wall time.Duration, requests int) *WayResult {
		w := &WayResult{Name: name, Title: name, Work: work, Measure: Measure{Wall: wall}}
		w.Stats.Requests.Total = requests
		if name == "kbv3" {
			b := ComputeBound(work, 10, defaultTimes)
			w.Bound = &b
		}
		return w
	}
	for _, tc := range []struct {
		name      string
		kbv3, off time.Duration
		want      []string
	}{
		{"met", 34 * time.Second, 90 * time.Second, nil},
		// 60 s / 2.4 = 25 s: below the 32 s that 320 s of action time in 10 slots needs.
		{"out of reach", 35 * time.Second, 60 * time.Second, []string{"finishing in 25.0 s", "shared among 10 slots, 32.0 s", "out of reach"}},
		// 79.2 s / 2.4 = 33 s: above the floor, below the serial bound: only overlapping stages.
		{"needs overlapping stages", 34 * time.Second, 79200 * time.Millisecond, []string{"finishing in 33.0 s", "overlapping the stages"}},
		// 84 s / 2.4 = 35 s: above the bound, so kbv3's own overhead is what misses it.
		{"kbv3 over its bound", 36 * time.Second, 84 * time.Second, []string{"finishing in 35.0 s", "It took 36.0 s, 2.8 s over that bound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{Opts: Options{Batch: 10}, ActionTimes: defaultTimes,
				Ways: []*WayResult{way("kbv3", tc.kbv3, 220), way("modern-hosts", tc.off, 1157)}}
			got := strings.Join(rep.missedReading(), "\n")
			if tc.want == nil {
				assert.Empty(t, got)
			}
			for _, w := range tc.want {
				assert.Contains(t, got, w)
			}
		})
	}
}

func TestOfficialIsTheFasterPeerThatSucceeded(t *testing.T) {
	ok := func(name string, wall time.Duration) *WayResult {
		return &WayResult{Name: name, Title: name, Measure: Measure{Wall: wall}}
	}
	failed := ok("official-hosts", time.Second)
	failed.Problems = []string{"vol-x is left"}
	for _, tc := range []struct {
		name string
		ways []*WayResult
		want string
	}{
		{"hosts faster", []*WayResult{ok("official", 97*time.Second), ok("official-hosts", 87*time.Second)}, "official-hosts"},
		{"async faster", []*WayResult{ok("official", 80*time.Second), ok("official-hosts", 87*time.Second)}, "official"},
		{"a failed run is no peer", []*WayResult{ok("official", 97*time.Second), failed}, "official"},
		{"5.x faster", []*WayResult{ok("official", 97*time.Second), ok("modern", 120*time.Second), ok("modern-hosts", 80*time.Second)}, "modern-hosts"},
		{"the CLI is no official way", []*WayResult{ok("cli", 30*time.Second), ok("modern", 120*time.Second)}, "modern"},
		{"none", []*WayResult{ok("kbv3", time.Second)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (&Report{Ways: tc.ways}).official()
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Errorf("official() = %q, want %q", name, tc.want)
			}
		})
	}
}
