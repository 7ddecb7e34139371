package volumes

import (
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/hz"
)

// Observed is what a reset's stage 0 read (kbv3_volume_info returns it as `observed`): every
// volume of the project and the plan's servers. In check mode the later stages predict from
// it instead of reading again, since a check-mode run changes nothing in between; so a
// `--check` reset costs stage 0's reads and no more. A real run ignores it: every change is
// decided against state read just before it.
type Observed struct {
	// Complete says Volumes are every volume of the project (stage 0 lists them all).
	Complete bool             `json:"complete" mapstructure:"complete"`
	Volumes  []VolumeInfo     `json:"volumes" mapstructure:"volumes"`
	Servers  []ObservedServer `json:"servers" mapstructure:"servers"`
	// MissingServers are server names looked up that do not exist.
	MissingServers []string `json:"missing_servers" mapstructure:"missing_servers"`
}

// ObservedServer is a server as stage 0 read it.
type ObservedServer struct {
	ID       int64  `json:"id" mapstructure:"id"`
	Name     string `json:"name" mapstructure:"name"`
	Location string `json:"location" mapstructure:"location"`
}

// observe records snap, which read every volume and the servers names lists.
func observe(snap *hz.Snapshot, names []string) *Observed {
	o := &Observed{Complete: true, Volumes: []VolumeInfo{}, Servers: []ObservedServer{}, MissingServers: []string{}}
	for _, v := range snap.Volumes() {
		o.Volumes = append(o.Volumes, volumeInfo(snap.Live(v), v))
	}
	for _, sv := range snap.Servers() {
		o.Servers = append(o.Servers, ObservedServer{ID: sv.ID, Name: sv.Name, Location: hz.ServerLocation(sv)})
	}
	for _, n := range names {
		if snap.Server(n) == nil {
			o.MissingServers = append(o.MissingServers, n)
		}
	}
	return o
}

// snapshot rebuilds the snapshot stage 0 read.
func (o *Observed) snapshot() *hz.Snapshot {
	vols := make([]*hcloud.Volume, 0, len(o.Volumes))
	for _, ov := range o.Volumes {
		v := &hcloud.Volume{
			ID: ov.ID, Name: ov.Name, Size: ov.SizeGB, Labels: ov.Labels, Status: hcloud.VolumeStatus(ov.Status),
			Protection: hcloud.VolumeProtection{Delete: ov.Protected}, LinuxDevice: ov.LinuxDevice,
		}
		if ov.Location != "" {
			v.Location = &hcloud.Location{Name: ov.Location}
		}
		if ov.ServerID != 0 {
			v.Server = &hcloud.Server{ID: ov.ServerID}
		}
		if ov.Format != "" {
			v.Format = &ov.Format
		}
		vols = append(vols, v)
	}
	servers := make([]*hcloud.Server, 0, len(o.Servers))
	for _, os := range o.Servers {
		sv := &hcloud.Server{ID: os.ID, Name: os.Name}
		if os.Location != "" {
			sv.Location = &hcloud.Location{Name: os.Location}
		}
		servers = append(servers, sv)
	}
	return hz.Recorded(vols, servers, o.MissingServers, o.Complete)
}

// recorded returns the snapshot a check-mode call predicts from: stage 0's, when the call was
// given it and it answers everything o asks; nil when the call must read.
func (s *session) recorded(o hz.SnapshotOpts) *hz.Snapshot {
	if s.observed == nil {
		return nil
	}
	snap := s.observed.snapshot()
	if !snap.Answers(o) {
		return nil
	}
	return snap
}
