package hz

import "github.com/hetznercloud/hcloud-go/v2/hcloud"

// Recorded is a snapshot made from state read earlier instead of from requests: a check-mode
// reset predicts every stage from what its stage 0 read, since nothing changes in between.
// allVolumes says the volumes are every volume of the project; servers holds the servers
// found and missing the names that were looked up and do not exist, so that both answer
// without a request.
func Recorded(volumes []*hcloud.Volume, servers []*hcloud.Server, missing []string, allVolumes bool) *Snapshot {
	s := newSnapshot()
	s.allVolumes = allVolumes
	for _, v := range volumes {
		s.volumes[v.Name] = v
		s.lookedUp[v.Name] = true
	}
	for _, sv := range servers {
		s.addServer(sv)
		s.serverLooked[sv.Name] = true
	}
	for _, n := range missing {
		s.serverLooked[n] = true
	}
	return s
}

// Answers reports whether the snapshot holds everything a Snapshot call with opts would read:
// the volumes asked for (by name, id or all of them) and the servers named. A server that a
// volume is attached to needs no lookup, since the record names it.
func (s *Snapshot) Answers(opts SnapshotOpts) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.allVolumes {
		if opts.AllVolumes || opts.LabelSelector != "" || len(opts.IDs) > 0 {
			return false
		}
		for _, n := range opts.Volumes {
			if !s.lookedUp[n] {
				return false
			}
		}
	} else if opts.LabelSelector != "" {
		// The record is unfiltered; a selector would have to be evaluated here.
		return false
	}
	for _, n := range opts.Servers {
		if !s.serverLooked[n] {
			return false
		}
	}
	for _, k := range opts.Known {
		if !s.serverLooked[k.Name] {
			return false
		}
	}
	return true
}

// Servers returns every known server, sorted by name.
func (s *Snapshot) Servers() []*hcloud.Server {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byName(s.servers)
}
