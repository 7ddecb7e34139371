package tests

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// The official collection hetzner.hcloud 5.x, run by ansible-core 2.19 against hcloud-sim, on
// the small fleet of testdata/modern/fleet.json (modern-a and modern-b in fsn1, modern-c in
// nbg1 with modern-data-c attached, modern-spare protected in hel1). Each playbook's every task
// result is checked against the module's documented return values and the simulator's state,
// and the run's mutating requests against what the tasks should have sent: check mode and
// idempotent reruns send none.

// hcVolume is the volume modules' hcloud_volume (and an item of volume_info's list).
type hcVolume struct {
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	Size             int               `json:"size"`
	Location         string            `json:"location"`
	Labels           map[string]string `json:"labels"`
	Server           *string           `json:"server"`
	LinuxDevice      string            `json:"linux_device"`
	DeleteProtection bool              `json:"delete_protection"`
}

// hcLocation is an item of location_info's list.
type hcLocation struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	City        string `json:"city"`
	Country     string `json:"country"`
}

// hcServer is the part of an item of server_info's list that the simulator decides.
type hcServer struct {
	ID                int64             `json:"id"`
	Name              string            `json:"name"`
	Created           string            `json:"created"`
	IPv4              *string           `json:"ipv4_address"`
	IPv6              *string           `json:"ipv6"`
	PrivateNetworks   []string          `json:"private_networks"`
	Image             *string           `json:"image"`
	ServerType        string            `json:"server_type"`
	Datacenter        string            `json:"datacenter"`
	Location          string            `json:"location"`
	PlacementGroup    *string           `json:"placement_group"`
	RescueEnabled     bool              `json:"rescue_enabled"`
	BackupWindow      *string           `json:"backup_window"`
	Labels            map[string]string `json:"labels"`
	Status            string            `json:"status"`
	DeleteProtection  bool              `json:"delete_protection"`
	RebuildProtection bool              `json:"rebuild_protection"`
}

// apiServer is what GET /servers answers, for the fields /_sim/state leaves out.
type apiServer struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	PublicNet struct {
		IPv4 *struct {
			IP string `json:"ip"`
		} `json:"ipv4"`
		IPv6 *struct {
			IP string `json:"ip"`
		} `json:"ipv6"`
	} `json:"public_net"`
	ServerType struct {
		Name string `json:"name"`
	} `json:"server_type"`
	Image *struct {
		Name *string `json:"name"`
	} `json:"image"`
	Datacenter struct {
		Name     string `json:"name"`
		Location struct {
			Name string `json:"name"`
		} `json:"location"`
	} `json:"datacenter"`
	BackupWindow  *string           `json:"backup_window"`
	RescueEnabled bool              `json:"rescue_enabled"`
	Labels        map[string]string `json:"labels"`
	Status        string            `json:"status"`
	Protection    struct {
		Delete  bool `json:"delete"`
		Rebuild bool `json:"rebuild"`
	} `json:"protection"`
}

type volumeResult struct {
	Changed  bool      `json:"changed"`
	Volume   *hcVolume `json:"hcloud_volume"`
	Warnings []string  `json:"warnings"`
	Msg      string    `json:"msg"`
}

type attachmentResult struct {
	Changed    bool `json:"changed"`
	Attachment *struct {
		Volume string  `json:"volume"`
		Server *string `json:"server"`
	} `json:"hcloud_volume_attachment"`
	Msg string `json:"msg"`
}

// wantVolume is what the modules must return for the volume of that name in st.
func wantVolume(t *testing.T, st simproc.State, name string) hcVolume {
	t.Helper()
	v, ok := st.Volume(name)
	require.True(t, ok, "volume %s in the simulator", name)
	return toHCVolume(st, v)
}

func toHCVolume(st simproc.State, v schema.Volume) hcVolume {
	out := hcVolume{
		ID: v.ID, Name: v.Name, Size: v.Size, Location: v.Location.Name, Labels: v.Labels,
		LinuxDevice: v.LinuxDevice, DeleteProtection: v.Protection.Delete,
	}
	if name := e2e.ServerName(st, v); name != "" {
		out.Server = &name
	}
	return out
}

func strPtr(s string) *string { return &s }

// TestModernHcloudInfo runs location_info, server_info and volume_info (all, by name, by id,
// by label selector, a missing name, check mode) with api_endpoint set on the modules, while
// HCLOUD_ENDPOINT points at a closed port.
func TestModernHcloudInfo(t *testing.T) {
	m, env, ctx := modernStart(t, "fleet.json")
	a, ok := env.Initial.Server("modern-a")
	require.True(t, ok)
	spareVolume, ok := env.Initial.Volume("modern-spare")
	require.True(t, ok)
	r := modernPlaybook(t, ctx, m, env, "info.yml", []string{"HCLOUD_ENDPOINT=http://127.0.0.1:9/v1"},
		"-e", "sim_endpoint="+env.Endpoint, "-e", fmt.Sprintf("server_id=%d volume_id=%d", a.ID, spareVolume.ID))
	e2eRequireOK(t, r)
	wantStatuses(t, r, map[string]string{
		"Toolchain": "ok", "location_info all": "ok", "location_info by name": "ok", "location_info by id": "ok",
		"location_info check mode": "ok", "server_info all": "ok", "server_info by name": "ok",
		"server_info by id": "ok", "server_info by label_selector": "ok", "server_info of a missing server": "ok", "volume_info all": "ok",
		"volume_info by name": "ok", "volume_info by id": "ok", "volume_info by label_selector": "ok", "volume_info check mode": "ok",
	})
	assert.Empty(t, mutations(t, env), "info modules change nothing")
	st := env.State()

	locations := map[string]hcLocation{}
	for _, l := range st.Locations {
		locations[l.Name] = hcLocation{ID: l.ID, Name: l.Name, Description: l.Description, City: l.City, Country: l.Country}
	}
	require.NotEmpty(t, locations)
	type locs struct {
		List []hcLocation `json:"hcloud_location_info"`
	}
	all := result[locs](t, r, "location_info all").List
	assert.ElementsMatch(t, slices.Collect(maps.Values(locations)), all)
	assert.Equal(t, []hcLocation{locations["nbg1"]}, result[locs](t, r, "location_info by name").List)
	assert.Equal(t, []hcLocation{locations["hel1"]}, result[locs](t, r, "location_info by id").List)
	assert.Equal(t, []hcLocation{locations["fsn1"]}, result[locs](t, r, "location_info check mode").List)

	servers := modernServersWanted(t, env, st)
	assert.Equal(t, "cpx31", servers["modern-c"].ServerType)
	assert.Equal(t, "cx22", servers["modern-a"].ServerType)
	assert.Equal(t, map[string]string{"suite": "modern", "role": "db"}, servers["modern-c"].Labels)
	type srvs struct {
		List []hcServer `json:"hcloud_server_info"`
	}
	assert.ElementsMatch(t, slices.Collect(maps.Values(servers)), result[srvs](t, r, "server_info all").List)
	assert.Equal(t, []hcServer{servers["modern-c"]}, result[srvs](t, r, "server_info by name").List)
	assert.Equal(t, []hcServer{servers["modern-a"]}, result[srvs](t, r, "server_info by id").List)
	assert.ElementsMatch(t, []hcServer{servers["modern-a"], servers["modern-b"]}, result[srvs](t, r, "server_info by label_selector").List)
	assert.Empty(t, result[srvs](t, r, "server_info of a missing server").List)

	type vols struct {
		List []hcVolume `json:"hcloud_volume_info"`
	}
	var allVolumes []hcVolume
	for _, v := range st.Volumes {
		allVolumes = append(allVolumes, toHCVolume(st, v))
	}
	require.Len(t, allVolumes, 2)
	assert.ElementsMatch(t, allVolumes, result[vols](t, r, "volume_info all").List)
	dataC := wantVolume(t, st, "modern-data-c")
	assert.Equal(t, "modern-c", *dataC.Server)
	assert.Equal(t, []hcVolume{dataC}, result[vols](t, r, "volume_info by name").List)
	assert.Equal(t, []hcVolume{dataC}, result[vols](t, r, "volume_info by label_selector").List, "suite=modern leaves suite=other out")
	spare := wantVolume(t, st, "modern-spare")
	assert.True(t, spare.DeleteProtection)
	assert.Equal(t, []hcVolume{spare}, result[vols](t, r, "volume_info check mode").List)
	assert.Equal(t, []hcVolume{spare}, result[vols](t, r, "volume_info by id").List)
}

// modernServersWanted is server_info's item for each server, from what GET /servers answers,
// checked against the simulator's state st.
func modernServersWanted(t *testing.T, env *e2e.Env, st simproc.State) map[string]hcServer {
	t.Helper()
	var listed struct {
		Servers []apiServer `json:"servers"`
	}
	apiGet(t, env, "/servers?per_page=50", &listed)
	require.Len(t, listed.Servers, 3)
	servers := map[string]hcServer{}
	for _, s := range listed.Servers {
		want := hcServer{
			ID: s.ID, Name: s.Name, Created: s.Created.Format("2006-01-02T15:04:05+00:00"),
			PrivateNetworks: []string{}, ServerType: s.ServerType.Name,
			Datacenter: s.Datacenter.Name, Location: s.Datacenter.Location.Name, BackupWindow: s.BackupWindow,
			RescueEnabled: s.RescueEnabled, Labels: s.Labels, Status: s.Status,
			DeleteProtection: s.Protection.Delete, RebuildProtection: s.Protection.Rebuild,
		}
		if s.PublicNet.IPv4 != nil {
			want.IPv4 = strPtr(s.PublicNet.IPv4.IP)
		}
		if s.PublicNet.IPv6 != nil {
			want.IPv6 = strPtr(s.PublicNet.IPv6.IP)
		}
		if s.Image != nil {
			want.Image = s.Image.Name
		}
		servers[s.Name] = want
		// The fleet file's own choices come through: types, locations, labels.
		sv, ok := st.Server(s.Name)
		require.True(t, ok)
		assert.Equal(t, sv.ID, s.ID)
		assert.Equal(t, sv.Location.Name, want.Location, "the module reads datacenter.location")
	}
	return servers
}

// TestModernHcloudVolume runs the volume lifecycle with volume and volume_attachment: create by
// location and by server, attach, resize (and a refused shrink), labels, protection, rename,
// detach, attach, move, a refused attach across locations, a refused delete of a protected
// volume, deletes. Each change runs in check mode first (changed, nothing sent), then for real,
// then again (not changed, nothing sent).
func TestModernHcloudVolume(t *testing.T) {
	m, env, ctx := modernStart(t, "fleet.json")
	t.Run("create", func(t *testing.T) { modernVolumeCreate(t, ctx, m, env) })
	t.Run("update", func(t *testing.T) { modernVolumeUpdate(t, ctx, m, env) })
	t.Run("delete", func(t *testing.T) { modernVolumeDelete(t, ctx, m, env) })
}

// modernVolumeCreate creates modern-loc by location and modern-srv on modern-a.
func modernVolumeCreate(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env) {
	r := modernPlaybook(t, ctx, m, env, "volume_create.yml", nil)
	e2eRequireOK(t, r)
	wantStatuses(t, r, map[string]string{
		"create by location (check)": "changed", "create by location": "changed", "create by location (rerun)": "ok",
		"create by server (check)": "changed", "create by server": "changed", "create by server (rerun)": "ok",
	})
	assert.Equal(t, map[string]int{
		"POST /v1/volumes": 2,
		// The protection asked for at creation is a second call of the module.
		"POST /v1/volumes/{id}/actions/change_protection": 1,
	}, mutations(t, env), "check mode and reruns send nothing")
	st := env.State()
	loc := wantVolume(t, st, "modern-loc")
	assert.Equal(t, hcVolume{
		ID: loc.ID, Name: "modern-loc", Size: 10, Location: "fsn1", Labels: map[string]string{"suite": "modern", "made": "location"},
		LinuxDevice: fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", loc.ID),
	}, loc)
	v, _ := st.Volume("modern-loc")
	require.NotNil(t, v.Format)
	assert.Equal(t, "ext4", *v.Format)
	srv := wantVolume(t, st, "modern-srv")
	assert.Equal(t, hcVolume{
		ID: srv.ID, Name: "modern-srv", Size: 12, Location: "fsn1", Labels: map[string]string{"suite": "modern", "made": "server"},
		Server: strPtr("modern-a"), LinuxDevice: fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", srv.ID), DeleteProtection: true,
	}, srv, "created on modern-a, in its location, attached")
	a, _ := st.Server("modern-a")
	assert.Contains(t, a.Volumes, srv.ID)

	for name, want := range map[string]*hcVolume{
		"create by location (check)": nil, "create by location": &loc, "create by location (rerun)": &loc,
		"create by server (check)": nil, "create by server": &srv, "create by server (rerun)": &srv,
	} {
		got := result[volumeResult](t, r, name)
		assert.Equal(t, want, got.Volume, name)
	}
	for _, a := range st.Actions {
		assert.Equal(t, "success", a.Status, "action %d %s", a.ID, a.Command)
	}
}

// modernVolumeUpdate changes modern-loc (into modern-renamed, on modern-b) and moves modern-srv.
func modernVolumeUpdate(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env) {
	r := modernPlaybook(t, ctx, m, env, "volume_update.yml", nil)
	e2eRequireOK(t, r)
	statuses := map[string]string{"find modern-loc": "ok", "shrink": "ok", "move": "changed", "attach elsewhere": "ignored"}
	for _, change := range []string{"attach by volume", "resize", "labels", "protection", "rename", "detach", "attach"} {
		statuses[change+" (check)"], statuses[change], statuses[change+" (rerun)"] = "changed", "changed", "ok"
	}
	wantStatuses(t, r, statuses)
	assert.Equal(t, map[string]int{
		// attach by volume, attach, move, attach elsewhere (refused)
		"POST /v1/volumes/{id}/actions/attach": 4,
		// detach, move, attach elsewhere (the module detaches before it attaches)
		"POST /v1/volumes/{id}/actions/detach":            3,
		"POST /v1/volumes/{id}/actions/resize":            1,
		"POST /v1/volumes/{id}/actions/change_protection": 1,
		// labels, rename
		"PUT /v1/volumes/{id}": 2,
	}, mutations(t, env), "check mode and reruns send nothing")
	st := env.State()
	renamed := wantVolume(t, st, "modern-renamed")
	_, old := st.Volume("modern-loc")
	assert.False(t, old, "renamed")
	assert.Equal(t, hcVolume{
		ID: renamed.ID, Name: "modern-renamed", Size: 20, Location: "fsn1",
		Labels: map[string]string{"suite": "modern", "made": "location", "stage": "updated"}, Server: strPtr("modern-b"),
		LinuxDevice: fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", renamed.ID), DeleteProtection: true,
	}, renamed)
	srv := wantVolume(t, st, "modern-srv")
	assert.Nil(t, srv.Server, "the refused attach across locations left it detached")
	assert.Equal(t, 12, srv.Size)

	// The volume module's results, in the order the changes came.
	loc := func(size int, server *string, labels map[string]string, protected bool, name string) *hcVolume {
		return &hcVolume{ID: renamed.ID, Name: name, Size: size, Location: "fsn1", Labels: labels, Server: server,
			LinuxDevice: renamed.LinuxDevice, DeleteProtection: protected}
	}
	made := map[string]string{"suite": "modern", "made": "location"}
	updated := renamed.Labels
	b := strPtr("modern-b")
	for name, want := range map[string]*hcVolume{
		// In check mode the module reports the volume as it is, not as it would be.
		"attach by volume (check)": loc(10, nil, made, false, "modern-loc"),
		"attach by volume":         loc(10, b, made, false, "modern-loc"),
		"attach by volume (rerun)": loc(10, b, made, false, "modern-loc"),
		"resize (check)":           loc(10, b, made, false, "modern-loc"),
		"resize":                   loc(20, b, made, false, "modern-loc"),
		"resize (rerun)":           loc(20, b, made, false, "modern-loc"),
		"shrink":                   loc(20, b, made, false, "modern-loc"),
		"labels (check)":           loc(20, b, made, false, "modern-loc"),
		"labels":                   loc(20, b, updated, false, "modern-loc"),
		"labels (rerun)":           loc(20, b, updated, false, "modern-loc"),
		"protection (check)":       loc(20, b, updated, false, "modern-loc"),
		"protection":               loc(20, b, updated, true, "modern-loc"),
		"protection (rerun)":       loc(20, b, updated, true, "modern-loc"),
		"rename (check)":           loc(20, b, updated, true, "modern-loc"),
		"rename":                   loc(20, b, updated, true, "modern-renamed"),
		"rename (rerun)":           loc(20, b, updated, true, "modern-renamed"),
	} {
		assert.Equal(t, want, result[volumeResult](t, r, name).Volume, name)
	}
	assert.Contains(t, result[volumeResult](t, r, "shrink").Warnings, "Shrinking of volumes is not supported")

	for name, want := range map[string]*string{
		"detach (check)": nil, "detach": nil, "detach (rerun)": nil,
		"attach (check)": b, "attach": b, "attach (rerun)": b, "move": strPtr("modern-a"),
	} {
		got := result[attachmentResult](t, r, name)
		require.NotNil(t, got.Attachment, name)
		assert.Equal(t, "modern-srv", got.Attachment.Volume, name)
		assert.Equal(t, want, got.Attachment.Server, name)
	}
	refused := result[attachmentResult](t, r, "attach elsewhere")
	assert.Contains(t, refused.Msg, "invalid_input", "a volume attaches only to a server of its location")
}

// modernVolumeDelete deletes both, and finds the fleet as it started.
func modernVolumeDelete(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env) {
	r := modernPlaybook(t, ctx, m, env, "volume_delete.yml", nil)
	e2eRequireOK(t, r)
	wantStatuses(t, r, map[string]string{
		"delete protected": "ignored", "unprotect": "changed", "delete (check)": "changed", "delete": "changed",
		"delete (rerun)": "ok", "unprotect attached": "changed", "delete attached": "changed", "info after deletes": "ok",
	})
	assert.Contains(t, result[volumeResult](t, r, "delete protected").Msg, "(protected)")
	assert.Equal(t, map[string]int{
		// the refused one, then the two deletes
		"DELETE /v1/volumes/{id}": 3,
		// the module detaches modern-renamed before its refused delete
		"POST /v1/volumes/{id}/actions/detach":            1,
		"POST /v1/volumes/{id}/actions/change_protection": 2,
	}, mutations(t, env), "check mode and reruns send nothing")
	for _, name := range []string{"delete (check)", "delete", "delete (rerun)", "delete attached"} {
		assert.Nil(t, result[volumeResult](t, r, name).Volume, name)
	}
	st := env.State()
	type vols struct {
		List []hcVolume `json:"hcloud_volume_info"`
	}
	assert.Equal(t, []hcVolume{wantVolume(t, st, "modern-data-c")}, result[vols](t, r, "info after deletes").List)
	// The fleet is back to where it started.
	var got, want []hcVolume
	for _, v := range st.Volumes {
		got = append(got, toHCVolume(st, v))
	}
	for _, v := range env.Initial.Volumes {
		want = append(want, toHCVolume(env.Initial, v))
	}
	assert.Equal(t, want, got)
	for _, s := range st.Servers {
		is, _ := env.Initial.ServerByID(s.ID)
		assert.ElementsMatch(t, is.Volumes, s.Volumes, "volumes of %s", s.Name)
		assert.False(t, s.Locked, "%s left locked", s.Name)
	}
}
