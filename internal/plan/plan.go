package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Version is the format version of the plan and diff files this package reads and writes.
const Version = 1

// Entry is one planned volume.
type Entry struct {
	Hostname   string            `json:"hostname" mapstructure:"hostname"`
	Volume     string            `json:"volume,omitempty" mapstructure:"volume"`
	SizeGB     int               `json:"size_gb" mapstructure:"size_gb"`
	Location   string            `json:"location,omitempty" mapstructure:"location"`
	Role       string            `json:"role,omitempty" mapstructure:"role"`
	Mountpoint string            `json:"mountpoint,omitempty" mapstructure:"mountpoint"`
	Labels     map[string]string `json:"labels,omitempty" mapstructure:"labels"`
	// Format is the filesystem the API puts on the volume when it creates it (xfs or ext4), so
	// that the next step only mounts; "" leaves it unformatted. It cannot change afterwards.
	Format string `json:"format,omitempty" mapstructure:"format"`
	// Automount asks the API to have the server mount the volume when it is attached (the
	// attach stage passes it with the entry's attach).
	Automount bool `json:"automount,omitempty" mapstructure:"automount"`
	// ServerID is the id of the hostname's server, as kbv3_volume_info resolved it for the
	// reset's stages so that they need not read the servers again. Plan files name servers by
	// hostname only: an id there could silently disagree with the name.
	ServerID int64 `json:"server_id,omitempty" mapstructure:"server_id"`
}

// DefaultVolumeName is the v3 naming convention, so plans only spell out exceptions.
func DefaultVolumeName(hostname string) string { return "kbv3-" + hostname + "-data" }

// Name is the volume's name: Volume, or the v3 default for the hostname.
func (e Entry) Name() string {
	if e.Volume != "" {
		return e.Volume
	}
	return DefaultVolumeName(e.Hostname)
}

// Plan is the content of servers/volume_plan_v3.json.
type Plan struct {
	Version int     `json:"version"`
	Volumes []Entry `json:"volumes"`
}

// New wraps entries given as module options (the playbook passes the plan's volumes list) in a
// plan of the current format version, ready to Validate.
func New(entries []Entry) *Plan { return &Plan{Version: Version, Volumes: entries} }

// EntryError is one problem with one entry. Index is its position in the list (-1 for an entry
// checked on its own); List is the JSON list it sits in ("volumes", "create", ...).
type EntryError struct {
	List     string
	Index    int
	Hostname string
	Err      error
}

func (e *EntryError) Error() string {
	host := e.Hostname
	if host == "" {
		host = "no hostname"
	}
	if e.Index < 0 {
		return fmt.Sprintf("%s: %v", host, e.Err)
	}
	return fmt.Sprintf("%s[%d] (%s): %v", e.List, e.Index, host, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// Parse reads a plan file strictly: unknown or duplicated fields, wrong types and another format
// version are errors. It does not validate the content: call Validate.
func Parse(data []byte) (*Plan, error) {
	if err := syntaxCheck(data); err != nil {
		return nil, err
	}
	fields, ok, err := objectFields(data)
	if !ok {
		return nil, errors.New(`a plan is a JSON object: {"version": 1, "volumes": [...]}`)
	}
	errs := []error{err}
	p := &Plan{}
	var rawVolumes json.RawMessage
	hasVersion := false
	for _, f := range fields {
		switch f.key {
		case "version":
			hasVersion = true
			if err := typeError(json.Unmarshal(f.value, &p.Version)); err != nil {
				errs = append(errs, fmt.Errorf("version: %w", err))
			} else if p.Version != Version {
				errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", p.Version, Version))
			}
		case "volumes":
			rawVolumes = f.value
		default:
			errs = append(errs, fmt.Errorf("unknown field %q", f.key))
		}
	}
	if !hasVersion {
		errs = append(errs, fmt.Errorf("version is missing (want %d)", Version))
	}
	p.Volumes, err = parseEntries("volumes", rawVolumes)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// parseEntries decodes a list of entries, each strictly, naming the entry in every error.
func parseEntries(list string, raw json.RawMessage) ([]Entry, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	elems, ok, err := arrayElements(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", list, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: want a list of entries", list)
	}
	entries := make([]Entry, len(elems))
	var errs []error
	for i, el := range elems {
		var head struct {
			Hostname any `json:"hostname"`
		}
		_ = json.Unmarshal(el, &head)
		host, _ := head.Hostname.(string)
		if _, isObject, _ := objectFields(el); !isObject {
			errs = append(errs, &EntryError{list, i, host, errors.New("want an object")})
			continue
		}
		if err := decodeStrict(el, &entries[i]); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, &EntryError{list, i, host, e})
			}
		}
		if entries[i].ServerID != 0 {
			errs = append(errs, &EntryError{list, i, host, errServerIDInFile})
		}
	}
	return entries, errors.Join(errs...)
}

// errServerIDInFile refuses a server id written in a plan or diff file: the files name servers
// by hostname, and only kbv3_volume_info, which reads them, pairs names with ids.
var errServerIDInFile = errors.New("server_id is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages")

// errPositionInFile refuses a listing position written in a diff file: only kbv3_volume_info,
// which has just listed the volumes, knows where they stand.
var errPositionInFile = errors.New("position is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages")

// unjoin flattens joined errors so each problem carries its own entry prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// Load reads and parses a plan file, JSON or (by its extension .yml or .yaml) YAML; errors start
// with the path.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if isYAML(path) {
		if data, err = yamlToJSON(data); err != nil {
			return nil, withPath(path, err)
		}
	}
	p, err := Parse(data)
	if err != nil {
		return nil, withPath(path, err)
	}
	return p, nil
}

// withPath puts the file name on its own line above a list of problems, and in front of a
// single one.
func withPath(path string, err error) error {
	if len(unjoin(err)) > 1 {
		return fmt.Errorf("%s:\n%w", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// Encode writes the plan in its canonical form (two-space indent, trailing newline), so a
// regenerated file diffs cleanly against the reviewed one.
func (p *Plan) Encode() ([]byte, error) { return encode(p) }

func encode(v any) ([]byte, error) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// problems lists what is wrong with one entry on its own, without the entry's name.
func (e Entry) problems() []error {
	var errs []error
	if e.Hostname == "" {
		errs = append(errs, errors.New("hostname is missing"))
	} else if err := checkHostname(e.Hostname); err != nil {
		errs = append(errs, fmt.Errorf("hostname %q %w", e.Hostname, err))
	}
	switch {
	case e.SizeGB == 0:
		errs = append(errs, fmt.Errorf("size_gb is missing (want %d..%d)", MinSizeGB, MaxSizeGB))
	case e.SizeGB < MinSizeGB || e.SizeGB > MaxSizeGB:
		errs = append(errs, fmt.Errorf("size_gb %d is out of range %d..%d", e.SizeGB, MinSizeGB, MaxSizeGB))
	}
	if e.Volume != "" {
		if err := checkVolumeName(e.Volume); err != nil {
			errs = append(errs, fmt.Errorf("volume %q %w", e.Volume, err))
		}
	} else if e.Hostname != "" {
		if err := checkVolumeName(e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("volume %q (derived from the hostname) %w", e.Name(), err))
		}
	}
	if e.ServerID < 0 {
		errs = append(errs, fmt.Errorf("server_id %d is not a server id", e.ServerID))
	}
	if e.Location != "" {
		if err := checkLocation(e.Location); err != nil {
			errs = append(errs, fmt.Errorf("location %q %w", e.Location, err))
		}
	}
	switch e.Format {
	case "", "xfs", "ext4":
	default:
		errs = append(errs, fmt.Errorf("format %q is not one the API makes (xfs, ext4, or none)", e.Format))
	}
	if e.Mountpoint != "" {
		if err := checkMountpoint(e.Mountpoint); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, CheckLabels(e.Labels)...)
}

// Validate reports every problem of one entry on its own (no duplicate checks: those need the
// plan), each an *EntryError naming the hostname. Modules that take a single volume use it.
func (e Entry) Validate() error {
	var errs []error
	for _, err := range e.problems() {
		errs = append(errs, &EntryError{"volumes", -1, e.Hostname, err})
	}
	return errors.Join(errs...)
}

// Validate reports every problem of the plan, each an *EntryError naming the entry by index and
// hostname, joined with errors.Join. It never stops at the first: one review fixes all.
func (p *Plan) Validate() error {
	if p == nil || len(p.Volumes) == 0 {
		return errors.New("the plan has no volumes")
	}
	var errs []error
	if p.Version != Version {
		errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", p.Version, Version))
	}
	hosts := make(map[string]int)
	names := make(map[string]int)
	for i, e := range p.Volumes {
		problems := e.problems()
		if e.Hostname != "" {
			if j, dup := hosts[e.Hostname]; dup {
				problems = append(problems, fmt.Errorf("hostname duplicates volumes[%d]", j))
			} else {
				hosts[e.Hostname] = i
			}
		}
		if e.Hostname != "" || e.Volume != "" {
			if j, dup := names[e.Name()]; dup {
				problems = append(problems, fmt.Errorf("volume %q duplicates volumes[%d] (%s)", e.Name(), j, p.Volumes[j].Hostname))
			} else {
				names[e.Name()] = i
			}
		}
		for _, err := range problems {
			errs = append(errs, &EntryError{"volumes", i, e.Hostname, err})
		}
	}
	return errors.Join(errs...)
}

// Only narrows the plan to the given hosts, as the playbook does with --limit
// (ansible_play_hosts). Entries keep the plan's order. missing lists, sorted and once each, the
// given hosts the plan has no volume for, for the caller to warn about: a limit that names a
// host without a volume is likely a typo, not something to fail on.
func (p *Plan) Only(hosts []string) (sub *Plan, missing []string) {
	want := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		want[h] = true
	}
	sub = &Plan{Version: p.Version}
	found := make(map[string]bool)
	for _, e := range p.Volumes {
		if want[e.Hostname] {
			sub.Volumes = append(sub.Volumes, e)
			found[e.Hostname] = true
		}
	}
	for h := range want {
		if !found[h] {
			missing = append(missing, h)
		}
	}
	slices.Sort(missing)
	return sub, missing
}

// Entry returns the entry of a hostname.
func (p *Plan) Entry(hostname string) (Entry, bool) {
	for _, e := range p.Volumes {
		if e.Hostname == hostname {
			return e, true
		}
	}
	return Entry{}, false
}

// Sizes lists the planned sizes, in plan order, for Summarize.
func (p *Plan) Sizes() []int {
	sizes := make([]int, len(p.Volumes))
	for i, e := range p.Volumes {
		sizes[i] = e.SizeGB
	}
	return sizes
}
