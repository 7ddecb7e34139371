package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Scenario is a fleet to start from: the JSON format of --scenario-file (docs/SIMULATOR.md).
// Ids are not part of it: the store hands them out, deterministically for a seed.
type Scenario struct {
	Servers []ScenarioServer `json:"servers"`
	Volumes []ScenarioVolume `json:"volumes"`
}

// ScenarioServer is one server. Location defaults to fsn1, ServerType to cx22, Image to
// debian-12 (of the type's architecture), Status to running; Labels default to
// role=<name without its trailing -NN> and env=prod.
type ScenarioServer struct {
	Name       string            `json:"name"`
	Location   string            `json:"location,omitempty"`
	ServerType string            `json:"server_type,omitempty"`
	Image      string            `json:"image,omitempty"`
	Status     string            `json:"status,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// ScenarioVolume is one volume. Server (a server name) attaches it; Location defaults to the
// server's, or fsn1 for a detached volume.
type ScenarioVolume struct {
	Name      string            `json:"name"`
	Size      int               `json:"size"`
	Location  string            `json:"location,omitempty"`
	Server    string            `json:"server,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Format    *string           `json:"format,omitempty"`
	Protected bool              `json:"protected,omitempty"`
}

// ph302Fleet is the fleet of the PH3-02 report: every hostname of its table with the volume
// size the report gives its role.
var ph302Fleet = []struct {
	host string
	size int
}{
	{"analytics-01", 20}, {"analytics-db-01", 50}, {"api-gateway-01", 20}, {"backup-01", 500},
	{"baserow-01", 20}, {"builder-01", 20}, {"crm-01", 20}, {"db-postgres-01", 100},
	{"db-postgres-02", 100}, {"db-postgres-03", 100}, {"etl-01", 20}, {"haproxy-01", 10},
	{"haproxy-02", 10}, {"k8s-master-01", 20}, {"k8s-master-02", 20}, {"k8s-master-03", 20},
	{"k8s-worker-01", 50}, {"k8s-worker-02", 50}, {"k8s-worker-03", 50}, {"k8s-worker-04", 50},
	{"k8s-worker-05", 50}, {"litellm-01", 20}, {"mail-core-01", 50}, {"mail-mx-01", 30},
	{"mail-mx-02", 30}, {"maria-01", 100}, {"maria-02", 100}, {"maria-03", 100},
	{"minio-01", 200}, {"minio-02", 200}, {"minio-03", 200}, {"ml-platform-01", 20},
	{"monitor-01", 50}, {"nocodb-01", 20}, {"proxysql-01", 20}, {"proxysql-02", 20},
	{"queue-01", 30}, {"queue-02", 30}, {"queue-03", 30}, {"redis-01", 20}, {"redis-02", 20},
	{"redis-03", 20}, {"siem-01", 50}, {"temporal-01", 20}, {"temporal-db-01", 50},
	{"vault-01", 20}, {"vector-db-01", 50},
}

// ph302NoOldVolume are the 7 servers of the report that had no volume before the reset
// (47 servers, 40 old volumes).
var ph302NoOldVolume = map[string]bool{
	"baserow-01": true, "builder-01": true, "litellm-01": true, "ml-platform-01": true,
	"nocodb-01": true, "siem-01": true, "vector-db-01": true,
}

// ph302OldNames are the old volumes whose names came from an earlier naming of the databases.
var ph302OldNames = map[string]string{
	"db-postgres-01": "vol-db-master-01",
	"db-postgres-02": "vol-db-slave-01",
	"db-postgres-03": "vol-db-slave-02",
}

var fleetLocations = []string{"fsn1", "nbg1", "hel1"}

// BuiltinScenario returns a named scenario: "empty", "ph3-02", or "generated:N" (N servers,
// each with one attached vol-<name>). The seed decides where servers live.
func BuiltinScenario(name string, seed int64) (*Scenario, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5343))
	offset := r.IntN(len(fleetLocations))
	switch {
	case name == "" || name == "empty":
		return &Scenario{}, nil
	case name == "ph3-02":
		sc := &Scenario{}
		for i, h := range ph302Fleet {
			sc.Servers = append(sc.Servers, ScenarioServer{
				Name: h.host, Location: fleetLocations[(i+offset)%len(fleetLocations)], ServerType: typeForRole(roleOf(h.host)),
			})
		}
		xfs := "xfs"
		for _, h := range ph302Fleet {
			if ph302NoOldVolume[h.host] {
				continue
			}
			name := ph302OldNames[h.host]
			if name == "" {
				name = "vol-" + h.host
			}
			sc.Volumes = append(sc.Volumes, ScenarioVolume{Name: name, Size: h.size, Server: h.host, Format: &xfs})
		}
		sc.Volumes = append(sc.Volumes, ScenarioVolume{
			Name: "keybuzz-archive-01", Size: 100, Server: "backup-01", Format: &xfs,
			Labels: map[string]string{"purpose": "archive"},
		})
		return sc, nil
	case strings.HasPrefix(name, "generated:"):
		n, err := strconv.Atoi(strings.TrimPrefix(name, "generated:"))
		if err != nil || n < 0 || n > 100000 {
			return nil, fmt.Errorf("scenario %q: want generated:N with N from 0 to 100000", name)
		}
		return generatedScenario(n, offset), nil
	}
	return nil, fmt.Errorf("unknown scenario %q (want ph3-02, empty or generated:N)", name)
}

// generatedScenario cycles through the roles of the PH3-02 fleet: role-01 for every role, then
// role-02, and so on, each server with one attached volume of its role's size.
func generatedScenario(n, offset int) *Scenario {
	type role struct {
		name string
		size int
	}
	var roles []role
	seen := map[string]bool{}
	for _, h := range ph302Fleet {
		if r := roleOf(h.host); !seen[r] {
			seen[r] = true
			roles = append(roles, role{r, h.size})
		}
	}
	sc := &Scenario{}
	xfs := "xfs"
	for i := range n {
		ro := roles[i%len(roles)]
		host := fmt.Sprintf("%s-%02d", ro.name, i/len(roles)+1)
		sc.Servers = append(sc.Servers, ScenarioServer{Name: host, Location: fleetLocations[(i+offset)%len(fleetLocations)], ServerType: typeForRole(ro.name)})
		sc.Volumes = append(sc.Volumes, ScenarioVolume{Name: "vol-" + host, Size: ro.size, Server: host, Format: &xfs})
	}
	return sc
}

// ReadScenarioFile reads a scenario in the JSON format of Scenario; unknown keys are errors so
// that a typo does not silently give another fleet.
func ReadScenarioFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	sc := &Scenario{}
	if err := dec.Decode(sc); err != nil {
		return nil, fmt.Errorf("scenario file %s: %w", path, err)
	}
	return sc, nil
}

var trailingNumber = regexp.MustCompile(`-[0-9]+$`)

// roleOf is the hostname without its trailing -NN: the role label of a server.
func roleOf(host string) string { return trailingNumber.ReplaceAllString(host, "") }

func typeForRole(role string) string {
	switch {
	case strings.Contains(role, "db") || strings.Contains(role, "maria") || strings.Contains(role, "postgres"):
		return "ccx23"
	case strings.Contains(role, "k8s-worker"):
		return "cx42"
	case role == "minio" || role == "backup":
		return "cx32"
	}
	return "cx22"
}

// loader is what loading a scenario draws on: everything random (creation times, addresses)
// comes from one seeded source, in file order.
type loader struct {
	s     *Store
	r     *rand.Rand
	epoch time.Time
}

func (l *loader) created() time.Time {
	return l.epoch.Add(time.Duration(l.r.Int64N(int64(540 * 24 * time.Hour)))).Truncate(time.Second)
}

func (l *loader) location(name, def string) (*location, error) {
	if name == "" {
		name = def
	}
	for _, loc := range l.s.locations {
		if loc.Name == name {
			return loc, nil
		}
	}
	return nil, fmt.Errorf("unknown location %q", name)
}

// load fills an empty store with sc, deterministically for seed. The caller holds s.mu or owns
// s alone.
func (s *Store) load(sc *Scenario, seed int64) error {
	l := &loader{s: s, r: rand.New(rand.NewPCG(uint64(seed), 0x4c4f4144)), epoch: time.Date(2023, 3, 1, 8, 0, 0, 0, time.UTC)}
	for _, in := range sc.Servers {
		if err := s.loadServer(in, l); err != nil {
			return err
		}
	}
	for _, in := range sc.Volumes {
		if err := s.loadVolume(in, l); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) loadServer(in ScenarioServer, l *loader) error {
	if in.Name == "" {
		return fmt.Errorf("scenario: a server has no name")
	}
	if _, dup := s.serverNames[in.Name]; dup {
		return fmt.Errorf("scenario: server %q appears twice", in.Name)
	}
	loc, err := l.location(in.Location, "fsn1")
	if err != nil {
		return fmt.Errorf("scenario: server %q: %w", in.Name, err)
	}
	typeName := in.ServerType
	if typeName == "" {
		typeName = "cx22"
	}
	st := serverTypeByRef(schema.IDOrName{Name: typeName})
	if st == nil {
		return fmt.Errorf("scenario: server %q: unknown server_type %q", in.Name, typeName)
	}
	if !st.availableIn(loc.Name) {
		return fmt.Errorf("scenario: server %q: server_type %s is not sold in %s (only in %s)", in.Name, st.name, loc.Name, strings.Join(st.locations, ", "))
	}
	imageName := cmp.Or(in.Image, "debian-12")
	img := imageByRef(schema.IDOrName{Name: imageName}, st.architecture)
	if img == nil {
		return fmt.Errorf("scenario: server %q: no image %q for %s (server_type %s)", in.Name, imageName, st.architecture, st.name)
	}
	labels := in.Labels
	if labels == nil {
		labels = map[string]string{"role": roleOf(in.Name), "env": "prod"}
	}
	if err := validateLabels(labels); err != nil {
		return fmt.Errorf("scenario: server %q: %w", in.Name, err)
	}
	status := in.Status
	if status == "" {
		status = "running"
	}
	sv := &server{
		id: s.ids.NextID(kindServer), name: in.Name, status: status, created: l.created(),
		loc: loc, dc: s.datacenterIn(loc), labels: cloneLabels(labels), serverType: st, image: img,
		ipv4ID: s.ids.NextID(kindIP), ipv6ID: s.ids.NextID(kindIP),
		ipv4: fmt.Sprintf("%s.%d.%d", ipv4Prefix[loc.Name], l.r.IntN(256), 1+l.r.IntN(254)),
		ipv6: fmt.Sprintf("2a01:4f8:%x:%x::/64", 0xc000+l.r.IntN(0x1000), l.r.IntN(0x10000)),
	}
	s.servers[sv.id] = sv
	s.serverNames[sv.name] = sv
	return nil
}

func (s *Store) loadVolume(in ScenarioVolume, l *loader) error {
	if err := validateVolumeName(in.Name); err != nil {
		return fmt.Errorf("scenario: volume %q: %w", in.Name, err)
	}
	if _, dup := s.volumeNames[in.Name]; dup {
		return fmt.Errorf("scenario: volume %q appears twice", in.Name)
	}
	if in.Size < MinVolumeSize || in.Size > MaxVolumeSize {
		return fmt.Errorf("scenario: volume %q: size %d not in %d..%d", in.Name, in.Size, MinVolumeSize, MaxVolumeSize)
	}
	if in.Format != nil && *in.Format != "xfs" && *in.Format != "ext4" {
		return fmt.Errorf("scenario: volume %q: format must be xfs or ext4", in.Name)
	}
	var sv *server
	def := "fsn1"
	if in.Server != "" {
		var ok bool
		if sv, ok = s.serverNames[in.Server]; !ok {
			return fmt.Errorf("scenario: volume %q: unknown server %q", in.Name, in.Server)
		}
		def = sv.loc.Name
	}
	loc, err := l.location(in.Location, def)
	if err != nil {
		return fmt.Errorf("scenario: volume %q: %w", in.Name, err)
	}
	if sv != nil && sv.loc != loc {
		return fmt.Errorf("scenario: volume %q in %s cannot be attached to %q in %s", in.Name, loc.Name, sv.name, sv.loc.Name)
	}
	if sv != nil && len(sv.volumes) >= MaxVolumesPerServer {
		return fmt.Errorf("scenario: volume %q: server %q already has the maximum of %d volumes", in.Name, sv.name, MaxVolumesPerServer)
	}
	if err := validateLabels(in.Labels); err != nil {
		return fmt.Errorf("scenario: volume %q: %w", in.Name, err)
	}
	v := &volume{
		id: s.ids.NextID(kindVolume), name: in.Name, size: in.Size, loc: loc, server: sv, status: "available",
		format: in.Format, protect: in.Protected, labels: cloneLabels(in.Labels), created: l.created(),
	}
	s.volumes[v.id] = v
	s.volumeNames[v.name] = v
	if sv != nil {
		sv.volumes = append(sv.volumes, v)
	}
	return nil
}

// ipv4Prefix gives addresses the look of each location's real ranges.
var ipv4Prefix = map[string]string{"fsn1": "49.12", "nbg1": "168.119", "hel1": "65.21", "ash": "5.161", "hil": "5.78", "sin": "5.223"}
