// Package volumes is what each kbv3 module does: it composes the protocol (internal/ansible),
// the Hetzner layer (internal/hz), the plan (internal/plan) and the runner (internal/batch)
// into the six operations detach, delete, create, attach, verify and info.
//
// Every operation follows one shape: validate everything the call was given, read one snapshot
// of the volumes and servers it touches, decide each item against that snapshot, run the items
// with bounded concurrency under one deadline, and return one Item per volume.
package volumes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/batch"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/plan"
)

// Common are the options every module takes (documented once, in
// plugins/doc_fragments/hcloud.py). Embed it with `mapstructure:",squash"`.
type Common struct {
	APIToken    string `mapstructure:"api_token" ansible:"no_log,env=HCLOUD_TOKEN"`
	APIEndpoint string `mapstructure:"api_endpoint" ansible:"env=HCLOUD_ENDPOINT,default=https://api.hetzner.cloud/v1"`
	Timeout     int    `mapstructure:"timeout" ansible:"default=300"`
	Concurrency int    `mapstructure:"concurrency" ansible:"default=10"`
	LogPath     string `mapstructure:"log_path"`
	// RunID stamps the operation log's lines (the reset playbook passes stage 0's).
	RunID string `mapstructure:"run_id"`
	// Deadline, in Unix seconds, ends the call earlier than timeout would: the reset playbook
	// gives every batch of a stage the stage's deadline, so that a stage ends by stage_timeout
	// however many batches it has.
	Deadline int64 `mapstructure:"deadline"`
	// SkipHosts are hosts that failed at an earlier stage: their volumes are reported skipped,
	// without a request, so that one host's failure stays with that host.
	SkipHosts []string `mapstructure:"skip_hosts"`
}

// endpoint is the API the call speaks to, for records (the token is never part of it).
func (c Common) endpoint() string {
	return cmp.Or(c.APIEndpoint, os.Getenv("HCLOUD_ENDPOINT"), hz.DefaultEndpoint)
}

// validate checks the options that need no request; hz.Options.Validate checks the rest.
func (c Common) validate() error {
	var errs []error
	if c.Timeout < 1 {
		errs = append(errs, fmt.Errorf("timeout: must be at least 1 second, got %d", c.Timeout))
	}
	if c.Concurrency < 1 || c.Concurrency > 50 {
		errs = append(errs, fmt.Errorf("concurrency: must be between 1 and 50, got %d", c.Concurrency))
	}
	if c.Deadline < 0 {
		errs = append(errs, fmt.Errorf("deadline: must be a Unix time in seconds, got %d", c.Deadline))
	}
	return errors.Join(errs...)
}

// tuneClient, when set, adjusts every call's client options: tests shorten polls and backoffs
// with it, so that production keeps hz's defaults without a knob users could misuse.
var tuneClient func(*hz.Options)

// session is one module call's connection: the client, the operation log and the deadline.
type session struct {
	client      *hz.Client
	concurrency int
	skip        map[string]bool // hosts whose volumes are skipped (Common.SkipHosts)
	endpoint    string          // the API spoken to, for messages (never the token)
}

// open validates the common options, registers the token as a secret, and returns the call's
// context (bounded by timeout) and session. The caller must call close.
func (c Common) open(ctx context.Context, m *ansible.Module) (context.Context, *session, func(), error) {
	m.AddSecret(c.APIToken)
	if c.APIEndpoint == "" {
		// api_endpoint: '' (a variable that templated to nothing) must not leave a rehearsal
		// against HCLOUD_ENDPOINT for the real API.
		c.APIEndpoint = os.Getenv("HCLOUD_ENDPOINT")
	}
	if err := c.validate(); err != nil {
		return nil, nil, nil, err
	}
	opts := hz.Options{Token: c.APIToken, Endpoint: c.APIEndpoint}
	if err := opts.Validate(); err != nil {
		return nil, nil, nil, err
	}
	var log *oplog.Logger
	if c.LogPath != "" {
		l, err := oplog.Open(c.LogPath, m.Name, c.APIToken)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("log_path: %w", err)
		}
		log = l
	}
	log.SetRun(c.RunID, m.CheckMode)
	opts.Log = log
	if tuneClient != nil {
		tuneClient(&opts)
	}
	client, err := hz.New(opts)
	if err != nil {
		_ = log.Close()
		return nil, nil, nil, err
	}
	deadline := time.Now().Add(time.Duration(c.Timeout) * time.Second)
	if d := time.Unix(c.Deadline, 0); c.Deadline > 0 && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	s := &session{client: client, concurrency: c.Concurrency, skip: map[string]bool{}, endpoint: c.endpoint()}
	for _, h := range c.SkipHosts {
		s.skip[h] = true
	}
	closeFn := func() {
		cancel()
		if err := log.Close(); err != nil {
			m.Warn("log_path: %v", err)
		}
	}
	return ctx, s, closeFn, nil
}

// snapshot reads the call's one snapshot, the first request of every call: every module reads
// it here, so that a wrong token or endpoint is said the same way in all six.
func (s *session) snapshot(ctx context.Context, o hz.SnapshotOpts) (*hz.Snapshot, error) {
	snap, err := s.client.Snapshot(ctx, o)
	if err != nil {
		return nil, s.explain(err)
	}
	return snap, nil
}

// explain words the errors that no retry can mend in terms of the option to fix: a refused
// token or a missing permission names api_token/HCLOUD_TOKEN, an endpoint that cannot be
// reached names api_endpoint/HCLOUD_ENDPOINT, and each names the endpoint. Others are as is.
func (s *session) explain(err error) error {
	switch {
	case err == nil:
		return nil
	case hz.IsUnauthorized(err):
		return fmt.Errorf("api_token: the API refused the token (set api_token or HCLOUD_TOKEN to a read/write token of the project of %s): %w", s.endpoint, err)
	case hz.IsForbidden(err):
		return fmt.Errorf("api_token: the API denied the token the permission (set api_token or HCLOUD_TOKEN to a token with Read & Write permission of the project of %s): %w", s.endpoint, err)
	case hz.IsUnreachable(err):
		return fmt.Errorf("api_endpoint: cannot reach the API at %s, and retrying cannot help (check api_endpoint or HCLOUD_ENDPOINT): %w", s.endpoint, err)
	}
	return err
}

// Item is the result for one volume, the same in every module (docs/ARCHITECTURE.md).
type Item struct {
	Volume     string `json:"volume"`
	ID         int64  `json:"id"`
	Server     string `json:"server"`
	Location   string `json:"location,omitempty"`
	Size       int    `json:"size,omitempty"`
	Action     string `json:"action"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	// Host is the plan host the item belongs to: the entry's hostname, or for an old volume
	// the server the reviewer saw it on ("" for one seen detached, which belongs to no host).
	Host string `json:"host,omitempty"`

	// changed is whether Action is (or in check mode would be) a change; diff is the volume's
	// before and after, for diff mode. Neither is printed as such.
	changed bool
	diff    *ansible.Diff
	// predicted marks a check-mode refusal that an earlier task of the run may lift (a delete
	// of a volume a detach task before it would have detached): it warns, it does not fail.
	predicted bool
}

// ActionFailed and ActionRefused are the actions of items that did not succeed: refused means
// a safety check kept the volume as it is, before any request for it. ActionSkipped is an item
// left alone, without a request, because another item of the same call was refused (the delete
// module deletes a list whole or not at all); it does not fail the call by itself.
const (
	ActionFailed  = "failed"
	ActionRefused = "refused"
	ActionSkipped = "skipped"
)

// fail marks the item as not done with err, keeping what is known of the volume. changed stays
// as it was: a step that succeeded before the failure (the detach of a move) did change the
// volume, and the task must say so.
func (it *Item) fail(action string, err error) {
	it.Action = action
	it.Error = nameOnce(it.Volume, oneLine(err))
	it.diff = nil
}

// nameOnce keeps one mention of the volume in an item's error, where the layers of an error
// each named it again ("volumes[3] (NAME): ... volume NAME ..."): the first mention stays, and
// a later "volume NAME" becomes "the volume". result then leaves out the label of an error that
// names its volume already, so msg names each volume once too. Other volumes' names stay.
func nameOnce(name, msg string) string {
	if name == "" {
		return msg
	}
	first := indexWord(msg, "("+name+")")
	if first < 0 {
		first = indexWord(msg, "volume "+name)
		if first < 0 {
			return msg
		}
		first += len("volume " + name)
	} else {
		first += len(name) + 2
	}
	return msg[:first] + replaceWord(msg[first:], "volume "+name, "the volume")
}

// indexWord is strings.Index of old where it is not followed by a character that continues a
// volume name; -1 when there is none.
func indexWord(s, old string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], old)
		if i < 0 {
			return -1
		}
		end := off + i + len(old)
		if end >= len(s) || !isNameChar(s[end]) || !isNameChar(old[len(old)-1]) {
			return off + i
		}
		off = end
	}
}

// replaceWord replaces old in s where it is not followed by a character that continues a
// volume name, so that "volume db-1" is not found inside "volume db-10".
func replaceWord(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		if end < len(s) && isNameChar(s[end]) && isNameChar(old[len(old)-1]) {
			b.WriteString(s[:end])
		} else {
			b.WriteString(s[:i])
			b.WriteString(repl)
		}
		s = s[end:]
	}
}

func isNameChar(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// describe fills the item with what st shows of the volume.
func (it *Item) describe(st *State) {
	if st == nil {
		return
	}
	it.Volume, it.ID, it.Server, it.Location, it.Size = st.Name, st.ID, st.Server, st.Location, st.Size
}

// oneLine joins the lines of err (errors.Join puts one problem per line) so that msg and item
// errors stay one line each.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// setOutcome records what hz did to the volume. An item stays changed once a step changed it:
// a delete that finds the volume gone after detaching it still detached it.
func (it *Item) setOutcome(o hz.Outcome) {
	it.set(string(o), o.Changed())
}

// set records an action that is not one of hz's outcomes (moved, skipped).
func (it *Item) set(action string, changed bool) {
	it.Action = action
	it.changed = it.changed || changed
}

// runItems runs fn for each item with the session's concurrency under ctx's deadline. ident gives
// what is known of an item before it runs (its name, at least), so that an item the deadline
// left unstarted is still reported. An error returned by fn fails the item; fn may also set
// the item's Action itself (for example to refused).
func runItems[T any](ctx context.Context, s *session, items []T, ident func(T) Item, fn func(ctx context.Context, item T, it *Item) error) []Item {
	outcomes := batch.Run(ctx, items, s.concurrency, func(ctx context.Context, item T) (Item, error) {
		it := ident(item)
		if it.Host != "" && s.skip[it.Host] {
			it.set(ActionSkipped, false)
			it.Error = "not attempted: host " + it.Host + " failed at an earlier stage"
			return it, nil
		}
		err := fn(ctx, item, &it)
		return it, s.explain(err)
	})
	out := make([]Item, len(items))
	for i, o := range outcomes {
		it := o.Value
		if it.Volume == "" && it.ID == 0 {
			it = ident(items[i])
		}
		if o.Err != nil {
			action := ActionFailed
			if it.Action == ActionRefused {
				action = ActionRefused
			}
			it.fail(action, o.Err)
		}
		it.DurationMS = o.Duration.Milliseconds()
		out[i] = it
	}
	return out
}

// result turns the items into the module's result: changed when any item changed (or would),
// failed when any failed or was refused, and a one-line msg of counts by action followed by
// the volumes that did not succeed.
func result(m *ansible.Module, items []Item, values map[string]any) *ansible.Result {
	r := &ansible.Result{Values: map[string]any{"volumes": items}}
	for k, v := range values {
		r.Values[k] = v
	}
	counts := map[string]int{}
	var order []string
	var bad []string
	for _, it := range items {
		if counts[it.Action] == 0 {
			order = append(order, it.Action)
		}
		counts[it.Action]++
		if it.changed {
			r.Changed = true
			if m.Diff && it.diff != nil {
				r.Diff = append(r.Diff, *it.diff)
			}
		}
		if it.Action == ActionFailed || it.Action == ActionRefused {
			if it.predicted && m.CheckMode {
				m.Warn("%s: %s", it.label(), it.Error)
			} else {
				r.Failed = true
			}
			if it.Volume != "" && indexWord(it.Error, it.Volume) >= 0 {
				bad = append(bad, it.Error) // it names the volume already
			} else {
				bad = append(bad, fmt.Sprintf("%s (%s)", it.label(), it.Error))
			}
		}
	}
	r.Values["failed_hosts"] = failedHosts(items)
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	parts := make([]string, 0, len(order))
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s: %d", a, counts[a]))
	}
	if len(parts) == 0 {
		parts = append(parts, "no volumes")
	}
	r.Msg = strings.Join(parts, ", ")
	if len(bad) > 0 {
		r.Msg += "; " + strings.Join(bad, "; ")
	}
	return r
}

// failedHosts lists, sorted and once each, the hosts of the items that failed or were refused:
// the reset playbook skips their later stages.
func failedHosts(items []Item) []string {
	out := []string{}
	for _, it := range items {
		if it.Host != "" && !it.predicted && (it.Action == ActionFailed || it.Action == ActionRefused) && !slices.Contains(out, it.Host) {
			out = append(out, it.Host)
		}
	}
	slices.Sort(out)
	return out
}

// label names the item in msg: by name, or by id when only the id is known.
func (it Item) label() string {
	if it.Volume == "" && it.ID != 0 {
		return fmt.Sprintf("id %d", it.ID)
	}
	return it.Volume
}

// rank puts failures last in msg, so the counts of what went well read first.
func rank(action string) int {
	switch action {
	case ActionRefused:
		return 1
	case ActionFailed:
		return 2
	}
	return 0
}

// State is a volume as diff mode shows it; the zero value (nil pointer) is "absent".
type State struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id,omitempty"`
	Size       int               `json:"size"`
	Location   string            `json:"location"`
	Server     string            `json:"server"`
	Protection bool              `json:"protection"`
	Labels     map[string]string `json:"labels"`
}

// stateOf returns v as diff mode shows it, or nil when v is nil.
func stateOf(s *hz.Snapshot, v *hcloud.Volume) *State {
	if v == nil {
		return nil
	}
	l := s.Live(v)
	labels := l.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &State{Name: l.Name, ID: l.ID, Size: l.SizeGB, Location: l.Location, Server: l.Server, Protection: l.Protected, Labels: labels}
}

// volumeDiff builds the diff entry for one volume; a nil state is shown as an empty object.
func volumeDiff(name string, before, after *State) *ansible.Diff {
	d := &ansible.Diff{BeforeHeader: "volume " + name + " (before)", AfterHeader: "volume " + name + " (after)"}
	d.Before, d.After = map[string]any{}, map[string]any{}
	if before != nil {
		d.Before = before
	}
	if after != nil {
		d.After = after
	}
	return d
}

// ref is a volume named by id, name or both: an entry of a detach or delete list, or the
// single-volume options (index -1). The other fields of the entry are what the list's reviewer
// saw (server, size_gb).
type ref struct {
	index int
	list  string // the list's name in messages; "" is the modules' option "volumes"
	plan.DeleteEntry
}

// String names the entry in errors as the playbook's author wrote it.
func (r ref) String() string {
	who := r.Name
	if who == "" {
		who = fmt.Sprintf("id %d", r.ID)
	}
	list := r.list
	if list == "" {
		list = "volumes"
	}
	switch {
	case r.Name == "" && r.ID == 0:
		return fmt.Sprintf("%s[%d]", list, r.index)
	case r.index < 0:
		return "volume " + who
	}
	return fmt.Sprintf("%s[%d] (%s)", list, r.index, who)
}

// refsOf validates the single-volume options (name, id) or the list, before any request, and
// returns one ref per volume. needBoth requires id and name together (delete).
func refsOf(name string, id int64, list []plan.DeleteEntry, single bool, needBoth bool) ([]ref, error) {
	var refs []ref
	if single {
		refs = []ref{{index: -1, DeleteEntry: plan.DeleteEntry{ID: id, Name: name}}}
	} else {
		for i, e := range list {
			refs = append(refs, ref{index: i, DeleteEntry: e})
		}
	}
	var errs []error
	names, ids := map[string]ref{}, map[int64]ref{}
	for _, r := range refs {
		what := "id"
		if r.index >= 0 {
			what = fmt.Sprintf("volumes[%d]: id", r.index)
		}
		switch {
		case r.ID < 0:
			errs = append(errs, fmt.Errorf("%s %d is not a volume id", what, r.ID))
		case needBoth && (r.ID == 0 || r.Name == ""):
			errs = append(errs, fmt.Errorf("%s: id and name are both required", r))
		case r.ID == 0 && r.Name == "":
			errs = append(errs, fmt.Errorf("%s: id or name is required", r))
		}
		if r.Name != "" {
			if err := plan.CheckVolumeName(r.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r, err))
			}
		}
		switch {
		case r.ServerID < 0:
			errs = append(errs, fmt.Errorf("%s: server_id %d is not a server id", r, r.ServerID))
		case r.ServerID > 0 && r.Server == "":
			errs = append(errs, fmt.Errorf("%s: server_id needs server, the name it is the id of", r))
		}
		if r.SizeGB != 0 && (r.SizeGB < plan.MinSizeGB || r.SizeGB > plan.MaxSizeGB) {
			errs = append(errs, fmt.Errorf("%s: size_gb %d is out of range %d..%d", r, r.SizeGB, plan.MinSizeGB, plan.MaxSizeGB))
		}
		if prev, dup := names[r.Name]; dup && r.Name != "" {
			errs = append(errs, fmt.Errorf("%s: name %s duplicates %s", r, r.Name, prev))
		} else {
			names[r.Name] = r
		}
		if prev, dup := ids[r.ID]; dup && r.ID > 0 {
			errs = append(errs, fmt.Errorf("%s: id %d duplicates %s", r, r.ID, prev))
		} else {
			ids[r.ID] = r
		}
	}
	return refs, errors.Join(errs...)
}

// refSnapshot says what the snapshot must hold for refs: their names, and their ids, which the
// snapshot checks against the volumes the names led to (listing every volume only when an id
// is not among them, for a volume renamed since the list was made). The servers the entries
// say the volumes were on are hints, read only for volumes still attached, so that their names
// cost no listing of every server; with their ids (server_id, from kbv3_volume_info) they are
// not read at all unless a volume turns out to be attached to another server.
func refSnapshot(refs []ref) hz.SnapshotOpts {
	var o hz.SnapshotOpts
	for _, r := range refs {
		switch {
		case r.Name == "":
			o.AllVolumes = true // an id alone is found only in the listing
		default:
			o.Volumes = append(o.Volumes, r.Name)
		}
		if r.ID != 0 {
			o.IDs = append(o.IDs, r.ID)
		}
		if r.Server != "" {
			o.ServerHints = append(o.ServerHints, r.Server)
			if r.ServerID > 0 {
				o.Known = append(o.Known, hz.KnownServer{ID: r.ServerID, Name: r.Server})
			}
		}
	}
	return o
}

// resolve finds the live volume r designates: nil when there is none. With id and name both
// given they must designate the same volume; a volume matching one but not the other is an
// error, never a guess.
func (r ref) resolve(s *hz.Snapshot) (*hcloud.Volume, error) {
	var byName, byID *hcloud.Volume
	if r.Name != "" {
		byName = s.Volume(r.Name)
	}
	if r.ID != 0 {
		byID = s.VolumeByID(r.ID)
	}
	switch {
	case r.Name == "":
		return byID, nil
	case r.ID == 0:
		return byName, nil
	case byID != nil && byID.Name != r.Name:
		return nil, fmt.Errorf("%s: the volume with id %d is now named %s, not %s", r, r.ID, byID.Name, r.Name)
	case byName != nil && byName.ID != r.ID:
		return nil, fmt.Errorf("%s: volume %s now has id %d, not %d", r, r.Name, byName.ID, r.ID)
	}
	return byName, nil
}

// resolveRefs resolves every ref, returning each one's volume (nil: absent) or refusal. Two
// refs that designate the same live volume (one by id, one by name) make the call invalid.
func resolveRefs(s *hz.Snapshot, refs []ref) ([]*hcloud.Volume, []error, error) {
	vols := make([]*hcloud.Volume, len(refs))
	refusals := make([]error, len(refs))
	seen := map[int64]ref{}
	var dups []error
	for i, r := range refs {
		vols[i], refusals[i] = r.resolve(s)
		if v := vols[i]; v != nil {
			if prev, dup := seen[v.ID]; dup {
				dups = append(dups, fmt.Errorf("%s and %s both designate volume %s (id %d)", prev, r, v.Name, v.ID))
			}
			seen[v.ID] = r
		}
	}
	return vols, refusals, errors.Join(dups...)
}

// located is an entry of a detach or delete list resolved against the snapshot.
type located struct {
	ref
	v       *hcloud.Volume // nil: absent
	before  *State
	refusal error // id and name designate different volumes
}

// locate validates the single-volume options or the list (needBoth: id and name together),
// reads one snapshot that covers them, and resolves every entry against it.
func (s *session) locate(ctx context.Context, name string, id int64, list []plan.DeleteEntry, needBoth bool) (*hz.Snapshot, []located, error) {
	refs, err := refsOf(name, id, list, name != "" || id != 0, needBoth)
	if err != nil {
		return nil, nil, invalid(err)
	}
	snap, err := s.snapshot(ctx, refSnapshot(refs))
	if err != nil {
		return nil, nil, err
	}
	vols, refusals, err := resolveRefs(snap, refs)
	if err != nil {
		return nil, nil, invalid(err)
	}
	out := make([]located, len(refs))
	for i, r := range refs {
		out[i] = located{ref: r, v: vols[i], before: stateOf(snap, vols[i]), refusal: refusals[i]}
	}
	return snap, out, nil
}

// invalid words the validation errors of a call as one line for msg.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(oneLine(err))
}

// singleEntryProblems checks a single volume's name, location and labels with the plan's
// rules, so that the single-volume options are held to the same standard as plan entries,
// and returns the problems without the entry's prefix (there is no list to point into).
func singleEntryProblems(name, server, location string, labels map[string]string) []error {
	host := server
	if host == "" {
		host = "placeholder" // only the name, location and labels are checked here
	}
	e := plan.Entry{Hostname: host, Volume: name, SizeGB: plan.MinSizeGB, Location: location, Labels: labels}
	var out []error
	for _, err := range unjoin(e.Validate()) {
		var ee *plan.EntryError
		if errors.As(err, &ee) {
			err = ee.Err
		}
		if server != "" && strings.HasPrefix(err.Error(), "hostname ") {
			err = fmt.Errorf("server: %w", err)
		}
		out = append(out, err)
	}
	return out
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
