package plan

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// DeleteEntry names one volume approved for deletion, as the reviewer saw it. The delete module
// acts on the id and checks the name against the live volume, so a reused id cannot delete the
// wrong volume; it also checks the size and the attachment, so that a volume that changed since
// the review (resized, attached, moved) is refused, never detached from a server nobody saw it
// on. A diff file records the attachment explicitly: Server, or Detached when it had none.
type DeleteEntry struct {
	ID     int64  `json:"id" mapstructure:"id"`
	Name   string `json:"name" mapstructure:"name"`
	Server string `json:"server,omitempty" mapstructure:"server"`
	// Detached says the reviewer saw the volume attached to no server: a volume found attached
	// is refused. Without Server or Detached (a module task written by hand) the attachment is
	// not checked; diff files must say one or the other.
	Detached bool `json:"detached,omitempty" mapstructure:"detached"`
	SizeGB   int  `json:"size_gb,omitempty" mapstructure:"size_gb"`
	// ServerID is the id of Server, as kbv3_volume_info found the volume attached to it, so
	// that the stages name the server without reading the servers again. Not part of a diff
	// file: the reviewer approved names.
	ServerID int64 `json:"server_id,omitempty" mapstructure:"server_id"`
	// Position is where the volume stood (1 first) among the project's volumes in id order
	// when kbv3_volume_info read them all, so that a detach batch reads the page that holds it
	// first instead of the first page and then that one. A hint only: a volume not found there
	// is looked for as if there were none. Not part of a diff file either.
	Position int `json:"position,omitempty" mapstructure:"position"`
}

// Live is a volume as the API shows it. The Hetzner layer fills it; it holds no hcloud-go types
// so that this package, its tests and the diff file stay independent of the client library.
type Live struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	SizeGB    int               `json:"size_gb"`
	Location  string            `json:"location"`
	Server    string            `json:"server,omitempty"` // server name; "" when detached
	Labels    map[string]string `json:"labels,omitempty"`
	Protected bool              `json:"protected,omitempty"`
	Format    string            `json:"format,omitempty"` // "" when unformatted
}

func (v Live) deleteEntry() DeleteEntry {
	return DeleteEntry{ID: v.ID, Name: v.Name, Server: v.Server, Detached: v.Server == "", SizeGB: v.SizeGB}
}

// Host is the plan host whose stages the entry belongs to: the server the reviewer saw the
// volume attached to, or "" for a volume seen detached, which belongs to no host.
func (e DeleteEntry) Host() string { return e.Server }

// Match is a plan volume that exists and is as planned: right size and location, attached to
// its server or detached (attaching is the attach module's job, not a disagreement). It is flat,
// with the live values, so playbooks can read it with plain Jinja filters.
type Match struct {
	Hostname string `json:"hostname"`
	Volume   string `json:"volume"`
	ID       int64  `json:"id"`
	SizeGB   int    `json:"size_gb"`
	Location string `json:"location"`
	Server   string `json:"server,omitempty"` // "" when detached
}

func match(e Entry, v Live) Match {
	return Match{Hostname: e.Hostname, Volume: e.Name(), ID: v.ID, SizeGB: v.SizeGB, Location: v.Location, Server: v.Server}
}

// Mismatch is a plan volume that exists but disagrees with the plan; the other fields are the
// live values. Fields says how it differs, one "field: plan X, live Y" per difference, in the
// order size_gb, location, server. Nothing acts on a mismatch automatically: a person decides.
type Mismatch struct {
	Match
	Fields []string `json:"fields"`
}

// Diff is the reviewed change, the content of servers/volume_diff_v3.json. Create entries carry
// their resolved volume name and location, so the file shows exactly what will be created.
// Protected lists volumes the selector chose that the API would refuse to delete: they stay, and
// the reviewer sees it.
type Diff struct {
	Version   int           `json:"version"`
	Selector  Selector      `json:"selector"`
	Delete    []DeleteEntry `json:"delete"`
	Create    []Entry       `json:"create"`
	Keep      []Match       `json:"keep"`
	Mismatch  []Mismatch    `json:"mismatch"`
	Protected []DeleteEntry `json:"protected,omitempty"`
}

// Compute decides the change from the plan, the live volumes and the servers' locations
// (hostname to location name). It is pure and deterministic: delete and protected are sorted by
// name then id; create, keep and mismatch follow the plan's order.
//
// A live volume whose name is a plan volume is never deleted, whatever the selector says: it is
// kept or reported as a mismatch. Compute fails, naming every problem, when the plan or the
// selector is invalid, when two live volumes share a name or an id, or when a volume to create
// has no known location or the plan's location differs from its server's (it could never be
// attached).
func Compute(p *Plan, live []Live, serverLocation map[string]string, sel Selector) (*Diff, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	byName, errs := indexLive(live)
	d := &Diff{
		Version:  Version,
		Selector: Selector{Names: slices.Clone(sel.Names), LabelSelector: sel.LabelSelector},
		Delete:   []DeleteEntry{},
		Create:   []Entry{},
		Keep:     []Match{},
		Mismatch: []Mismatch{},
	}
	planned := make(map[string]bool, len(p.Volumes))
	for i, e := range p.Volumes {
		planned[e.Name()] = true
		if err := d.addPlanned(e, byName, serverLocation); err != nil {
			errs = append(errs, &EntryError{"volumes", i, e.Hostname, err})
		}
	}
	d.addSelected(live, planned, sel)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// indexLive maps the live volumes by name, reporting names and ids that two volumes share.
func indexLive(live []Live) (map[string]Live, []error) {
	var errs []error
	byName := make(map[string]Live, len(live))
	byID := make(map[int64]Live, len(live))
	for _, v := range live {
		if o, dup := byName[v.Name]; dup {
			errs = append(errs, fmt.Errorf("live volumes: name %q is used by ids %d and %d", v.Name, o.ID, v.ID))
		}
		if o, dup := byID[v.ID]; dup {
			errs = append(errs, fmt.Errorf("live volumes: id %d is used by %q and %q", v.ID, o.Name, v.Name))
		}
		byName[v.Name], byID[v.ID] = v, v
	}
	return byName, errs
}

// addPlanned files one plan entry under create, keep or mismatch, or says why it cannot be.
func (d *Diff) addPlanned(e Entry, byName map[string]Live, serverLocation map[string]string) error {
	serverLoc, hasServer := serverLocation[e.Hostname]
	loc := cmp.Or(e.Location, serverLoc)
	if e.Location != "" && hasServer && serverLoc != e.Location {
		return fmt.Errorf("location %s differs from the server's %s: the volume could not be attached", e.Location, serverLoc)
	}
	v, exists := byName[e.Name()]
	if !exists {
		if loc == "" {
			return errors.New("no location: the server was not found and the plan sets none")
		}
		c := e
		c.Volume, c.Location = e.Name(), loc
		d.Create = append(d.Create, c)
		return nil
	}
	if fields := differences(e, loc, v); len(fields) > 0 {
		d.Mismatch = append(d.Mismatch, Mismatch{Match: match(e, v), Fields: fields})
	} else {
		d.Keep = append(d.Keep, match(e, v))
	}
	return nil
}

// differences lists how live volume v differs from plan entry e, whose location is loc (the
// plan's or its server's; "" when neither is known).
func differences(e Entry, loc string, v Live) []string {
	var fields []string
	switch {
	case v.SizeGB < e.SizeGB:
		fields = append(fields, fmt.Sprintf("size_gb: plan %d, live %d (the reset grows it with allow_grow=true)", e.SizeGB, v.SizeGB))
	case v.SizeGB > e.SizeGB:
		fields = append(fields, fmt.Sprintf("size_gb: plan %d, live %d (volumes cannot shrink)", e.SizeGB, v.SizeGB))
	}
	if loc != "" && v.Location != loc {
		fields = append(fields, fmt.Sprintf("location: plan %s, live %s", loc, v.Location))
	}
	if v.Server != "" && v.Server != e.Hostname {
		fields = append(fields, fmt.Sprintf("server: plan %s, live %s", e.Hostname, v.Server))
	}
	if e.Format != "" && v.Format != e.Format {
		fields = append(fields, fmt.Sprintf("format: plan %s, live %s", e.Format, cmp.Or(v.Format, "none")))
	}
	return fields
}

// addSelected lists the live volumes the selector chooses, except plan volumes, under delete or
// (when the API would refuse) protected, each sorted by name then id.
func (d *Diff) addSelected(live []Live, planned map[string]bool, sel Selector) {
	for _, v := range live {
		if planned[v.Name] || !sel.Matches(v) {
			continue
		}
		if v.Protected {
			d.Protected = append(d.Protected, v.deleteEntry())
		} else {
			d.Delete = append(d.Delete, v.deleteEntry())
		}
	}
	byNameID := func(a, b DeleteEntry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	}
	slices.SortFunc(d.Delete, byNameID)
	slices.SortFunc(d.Protected, byNameID)
}

// ParseDiff reads a diff file as strictly as Parse reads a plan. It does not check it against
// the plan: call Validate.
func ParseDiff(data []byte) (*Diff, error) {
	if err := syntaxCheck(data); err != nil {
		return nil, err
	}
	fields, ok, err := objectFields(data)
	if !ok {
		return nil, errors.New(`a diff is a JSON object: {"version": 1, "selector": {...}, "delete": [...], ...}`)
	}
	errs := []error{err}
	d := &Diff{}
	hasVersion := false
	for _, f := range fields {
		switch f.key {
		case "version":
			hasVersion = true
			if err := typeError(json.Unmarshal(f.value, &d.Version)); err != nil {
				errs = append(errs, fmt.Errorf("version: %w", err))
			} else if d.Version != Version {
				errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", d.Version, Version))
			}
		case "selector":
			errs = append(errs, prefixed("selector: ", decodeStrict(f.value, &d.Selector)))
		case "delete":
			errs = append(errs, parseList("delete", f.value, &d.Delete, deleteLabel))
		case "protected":
			errs = append(errs, parseList("protected", f.value, &d.Protected, deleteLabel))
		case "create":
			d.Create, err = parseEntries("create", f.value)
			errs = append(errs, err)
		case "keep":
			errs = append(errs, parseList("keep", f.value, &d.Keep, func(m Match) string { return m.Hostname }))
		case "mismatch":
			errs = append(errs, parseList("mismatch", f.value, &d.Mismatch, func(m Mismatch) string { return m.Hostname }))
		default:
			errs = append(errs, fmt.Errorf("unknown field %q", f.key))
		}
	}
	if !hasVersion {
		errs = append(errs, fmt.Errorf("version is missing (want %d)", Version))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func deleteLabel(e DeleteEntry) string { return fmt.Sprintf("id %d, %s", e.ID, e.Name) }

// parseList decodes a JSON list element by element, strictly, naming each element by index and
// by what label says of it (read leniently first, so even a broken element is named).
func parseList[T any](list string, raw json.RawMessage, dst *[]T, label func(T) string) error {
	if string(raw) == "null" {
		return nil
	}
	elems, ok, err := arrayElements(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", list, err)
	}
	if !ok {
		return fmt.Errorf("%s: want a list", list)
	}
	out := make([]T, len(elems))
	var errs []error
	for i, el := range elems {
		_ = json.Unmarshal(el, &out[i])
		name := label(out[i])
		if _, isObject, _ := objectFields(el); !isObject {
			errs = append(errs, fmt.Errorf("%s[%d]: want an object", list, i))
			continue
		}
		for _, e := range unjoin(decodeStrict(el, &out[i])) {
			errs = append(errs, fmt.Errorf("%s[%d] (%s): %w", list, i, name, e))
		}
	}
	*dst = out
	return errors.Join(errs...)
}

// LoadDiff reads and parses a diff file; errors start with the path.
func LoadDiff(path string) (*Diff, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := ParseDiff(data)
	if err != nil {
		return nil, withPath(path, err)
	}
	return d, nil
}

// Encode writes the diff in its canonical form (two-space indent, trailing newline).
func (d *Diff) Encode() ([]byte, error) { return encode(d) }

// Validate checks the diff before anything acts on it, against the plan when p is not nil, and
// reports every problem. Above all, no delete entry may name a volume of the plan: that is the
// mistake this whole review exists to catch. An empty delete list is fine.
func (d *Diff) Validate(p *Plan) error {
	var errs []error
	if d.Version != Version {
		errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", d.Version, Version))
	}
	if err := d.Selector.Validate(); err != nil {
		errs = append(errs, err)
	}
	planned := make(map[string]Entry)
	if p != nil {
		for _, e := range p.Volumes {
			planned[e.Name()] = e
		}
	}
	protected := make(map[int64]bool)
	for i, e := range d.Protected {
		protected[e.ID] = true
		if e.ServerID != 0 {
			errs = append(errs, fmt.Errorf("protected[%d] (%s): %w", i, deleteLabel(e), errServerIDInFile))
		}
		if e.Position != 0 {
			errs = append(errs, fmt.Errorf("protected[%d] (%s): %w", i, deleteLabel(e), errPositionInFile))
		}
	}
	ids, names, deleteErrs := d.validateDelete(planned, protected)
	errs = append(errs, deleteErrs...)
	errs = append(errs, d.planVolumesSelected(p)...)
	for i, e := range d.Create {
		for _, err := range createProblems(e, p, planned, names) {
			errs = append(errs, &EntryError{"create", i, e.Hostname, err})
		}
	}
	for i, m := range d.Keep {
		for _, err := range matchProblems(m, p, planned, ids) {
			errs = append(errs, &EntryError{"keep", i, m.Hostname, err})
		}
	}
	for i, m := range d.Mismatch {
		for _, err := range matchProblems(m.Match, p, planned, ids) {
			errs = append(errs, &EntryError{"mismatch", i, m.Hostname, err})
		}
	}
	return errors.Join(errs...)
}

// validateDelete checks the delete entries and returns the index of each id and name in the list.
func (d *Diff) validateDelete(planned map[string]Entry, protected map[int64]bool) (ids map[int64]int, names map[string]int, errs []error) {
	ids = make(map[int64]int)
	names = make(map[string]int)
	for i, e := range d.Delete {
		var problems []error
		if e.ID <= 0 {
			problems = append(problems, fmt.Errorf("id must be a positive volume id, got %d", e.ID))
		} else if j, dup := ids[e.ID]; dup {
			problems = append(problems, fmt.Errorf("id duplicates delete[%d]", j))
		} else {
			ids[e.ID] = i
		}
		if e.Name == "" {
			problems = append(problems, errors.New("name is missing"))
		} else {
			problems = append(problems, d.deleteNameProblems(i, e.Name, names, planned)...)
		}
		if protected[e.ID] && e.ID > 0 {
			problems = append(problems, errors.New("is also listed as protected"))
		}
		problems = append(problems, deleteRecordProblems(e)...)
		for _, err := range problems {
			errs = append(errs, fmt.Errorf("delete[%d] (%s): %w", i, deleteLabel(e), err))
		}
	}
	return ids, names, errs
}

// deleteNameProblems checks the (non-empty) name of delete[i]: valid, not repeated (names
// records it), not a plan volume, and chosen by the selector's names if it has any.
func (d *Diff) deleteNameProblems(i int, name string, names map[string]int, planned map[string]Entry) []error {
	var problems []error
	if err := checkVolumeName(name); err != nil {
		problems = append(problems, fmt.Errorf("name %q %w", name, err))
	}
	if j, dup := names[name]; dup {
		problems = append(problems, fmt.Errorf("name duplicates delete[%d]", j))
	} else {
		names[name] = i
	}
	if _, ok := planned[name]; ok {
		problems = append(problems, errors.New("is a volume of the plan"))
	}
	if len(d.Selector.Names) > 0 && !d.Selector.matchesName(name) {
		problems = append(problems, errors.New("does not match the selector's names"))
	}
	return problems
}

// deleteRecordProblems checks what the delete module compares with the live volume before it
// acts: the size and the attachment the reviewer saw.
func deleteRecordProblems(e DeleteEntry) []error {
	var problems []error
	switch {
	case e.SizeGB == 0:
		problems = append(problems, errors.New("size_gb is missing: the size the reviewer saw is checked before the delete (recompute the diff with volume_diff_v3.yml)"))
	case e.SizeGB < MinSizeGB || e.SizeGB > MaxSizeGB:
		problems = append(problems, fmt.Errorf("size_gb %d is out of range %d..%d", e.SizeGB, MinSizeGB, MaxSizeGB))
	}
	switch {
	case e.Server == "" && !e.Detached:
		problems = append(problems, errors.New(`the attachment is not recorded: "server" (the server it was attached to) or "detached": true (recompute the diff with volume_diff_v3.yml)`))
	case e.Server != "" && e.Detached:
		problems = append(problems, fmt.Errorf(`"server": %q and "detached": true contradict each other`, e.Server))
	}
	if e.ServerID != 0 {
		problems = append(problems, errServerIDInFile)
	}
	if e.Position != 0 {
		problems = append(problems, errPositionInFile)
	}
	return problems
}

// planVolumesSelected reports the plan volumes the diff's selector matches.
func (d *Diff) planVolumesSelected(p *Plan) []error {
	if p == nil || d.Selector.Empty() {
		return nil
	}
	var errs []error
	for i, e := range p.Volumes {
		// The selector chooses what is old; a plan volume it matches would be a candidate
		// for deletion the moment the diff is computed again.
		if d.Selector.Matches(Live{Name: e.Name(), Labels: e.Labels}) {
			errs = append(errs, &EntryError{"volumes", i, e.Hostname, fmt.Errorf(
				"volume %s matches the diff's delete selector: narrow delete_patterns or delete_label_selector (or rename the plan volume) and compute the diff again", e.Name())})
		}
	}
	return errs
}

// createProblems checks a create entry on its own, against the plan when p is not nil, and
// against the names in delete.
func createProblems(e Entry, p *Plan, planned map[string]Entry, deleteNames map[string]int) []error {
	problems := e.problems()
	if p != nil {
		pe, ok := planned[e.Name()]
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("volume %q is not in the plan", e.Name()))
		case pe.Hostname != e.Hostname:
			problems = append(problems, fmt.Errorf("volume %q belongs to %s in the plan", e.Name(), pe.Hostname))
		case pe.SizeGB != e.SizeGB:
			problems = append(problems, fmt.Errorf("size_gb %d differs from the plan's %d", e.SizeGB, pe.SizeGB))
		case pe.Location != "" && pe.Location != e.Location:
			problems = append(problems, fmt.Errorf("location %s differs from the plan's %s", e.Location, pe.Location))
		}
	}
	if e.Location == "" {
		problems = append(problems, errors.New("location is missing (Compute resolves it from the server)"))
	}
	if _, dup := deleteNames[e.Name()]; dup {
		problems = append(problems, fmt.Errorf("volume %q is also in delete", e.Name()))
	}
	return problems
}

// matchProblems checks a keep or mismatch entry, against the plan when p is not nil, and
// against the ids in delete.
func matchProblems(m Match, p *Plan, planned map[string]Entry, deleteIDs map[int64]int) []error {
	var problems []error
	if m.Volume == "" {
		problems = append(problems, errors.New("volume is missing"))
	} else if pe, ok := planned[m.Volume]; p != nil && !ok {
		problems = append(problems, fmt.Errorf("volume %q is not in the plan", m.Volume))
	} else if ok && pe.Hostname != m.Hostname {
		problems = append(problems, fmt.Errorf("volume %q belongs to %s in the plan", m.Volume, pe.Hostname))
	}
	if m.ID <= 0 {
		problems = append(problems, fmt.Errorf("id must be a positive volume id, got %d", m.ID))
	} else if _, dup := deleteIDs[m.ID]; dup {
		problems = append(problems, fmt.Errorf("id %d is also in delete", m.ID))
	}
	return problems
}
