package tests

import (
	"strings"
	"testing"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// badInput is one bad call of a module binary: it must fail with a msg naming every want, and
// the simulator must have seen no mutating request.
type badInput struct {
	name   string
	module string
	args   map[string]any // merged over the module's valid base; a nil value removes the key
	raw    string         // when set, the args file verbatim (the connection comes from the env)
	noConn bool           // leave api_token/api_endpoint out of the args and the env
	env    []string       // extra environment
	want   []string       // substrings msg must contain (case-insensitive)
}

const (
	relCreate = "kbv3_volume_create"
	relDelete = "kbv3_volume_delete"
	relDetach = "kbv3_volume_detach"
	relAttach = "kbv3_volume_attach"
	relVerify = "kbv3_volume_verify"
	relInfo   = "kbv3_volume_info"
)

// badBase is a valid call of each module against the small fleet.
func badBase(module string) map[string]any {
	entry := func(host string, size int) map[string]any {
		return map[string]any{"hostname": host, "size_gb": size}
	}
	switch module {
	case relCreate:
		return map[string]any{"name": "kbv3-bad-data", "size": 20, "location": "fsn1"}
	case relDelete:
		return map[string]any{"volumes": []any{map[string]any{"id": "@id:vol-web-01", "name": "vol-web-01"}}, "detach": true}
	case relDetach:
		return map[string]any{"volumes": []any{map[string]any{"name": "vol-web-01"}}}
	case relAttach:
		return map[string]any{"volumes": []any{entry("web-01", 20)}}
	case relVerify:
		return map[string]any{"volumes": []any{entry("web-01", 20)}, "fail_on_problems": false}
	case relInfo:
		return map[string]any{"plan": []any{entry("web-01", 20)}, "delete_names": []any{"vol-*"}}
	}
	panic(module)
}

func badInputs() []badInput {
	e := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	list := func(items ...any) []any { return items }
	long65 := strings.Repeat("a", 65)
	return []badInput{
		// unknown options and wrong types
		{name: "create unknown option", module: relCreate, args: e("sise", 20), want: []string{"sise"}},
		{name: "delete unknown option", module: relDelete, args: e("force", true), want: []string{"force"}},
		{name: "attach unknown option", module: relAttach, args: e("detach", true), want: []string{"detach"}},
		{name: "verify unknown option", module: relVerify, args: e("forbiden", list("vol-*")), want: []string{"forbiden"}},
		{name: "info unknown option", module: relInfo, args: e("delete_name", list("vol-*")), want: []string{"delete_name"}},
		{name: "create size of wrong type", module: relCreate, args: e("size", "twenty"), want: []string{"size"}},
		{name: "create automount not a bool", module: relCreate, args: e("server", "web-01", "location", nil, "automount", "maybe"), want: []string{"automount"}},
		{name: "delete id of wrong type", module: relDelete, args: e("volumes", nil, "id", "abc", "name", "vol-web-01"), want: []string{"id"}},
		{name: "detach volumes not a list", module: relDetach, args: e("volumes", 5), want: []string{"volumes"}},
		{name: "detach fail_on_missing not a bool", module: relDetach, args: e("fail_on_missing", "perhaps"), want: []string{"fail_on_missing"}},
		{name: "attach force not a bool", module: relAttach, args: e("force", "sure"), want: []string{"force"}},
		{name: "timeout of wrong type", module: relCreate, args: e("timeout", "soon"), want: []string{"timeout"}},
		{name: "timeout zero", module: relDetach, args: e("timeout", 0), want: []string{"timeout"}},
		{name: "concurrency zero", module: relAttach, args: e("concurrency", 0), want: []string{"concurrency"}},
		{name: "concurrency 51", module: relCreate, args: e("concurrency", 51), want: []string{"concurrency"}},
		{name: "create format not a choice", module: relCreate, args: e("format", "btrfs"), want: []string{"format", "btrfs"}},
		{name: "plan entry of wrong type", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-01", "size_gb", "big"))), want: []string{"size_gb"}},
		// sizes
		{name: "create size 9", module: relCreate, args: e("size", 9), want: []string{"size", "9"}},
		{name: "create size 10241", module: relCreate, args: e("size", 10241), want: []string{"size", "10241"}},
		{name: "create plan entry size 9", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-01", "size_gb", 9))), want: []string{"web-01", "size_gb", "9"}},
		{name: "create plan entry size 10241", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-02", "size_gb", 10241))), want: []string{"web-02", "10241"}},
		{name: "verify plan entry size 9", module: relVerify, args: e("volumes", list(e("hostname", "web-01", "size_gb", 9))), want: []string{"web-01", "9"}},
		{name: "attach plan entry server_id -1", module: relAttach, args: e("volumes", list(e("hostname", "web-01", "size_gb", 20, "server_id", -1))), want: []string{"web-01", "server_id", "-1"}},
		{name: "detach entry with a negative position", module: relDetach, args: e("volumes", list(e("id", "@id:vol-web-01", "name", "vol-web-01", "position", -1))), want: []string{"volumes[0]", "position -1"}},
		{name: "detach entry server_id without server", module: relDetach, args: e("volumes", list(e("id", "@id:vol-web-01", "name", "vol-web-01", "server_id", 5))), want: []string{"volumes[0]", "server_id needs server"}},
		{name: "delete entry size_gb 9", module: relDelete, args: e("volumes", list(e("id", "@id:vol-web-01", "name", "vol-web-01", "size_gb", 9))), want: []string{"volumes[0]", "vol-web-01", "9"}},
		// names the API refuses
		{name: "create name with a space", module: relCreate, args: e("name", "my data"), want: []string{"my data"}},
		{name: "create name starting with -", module: relCreate, args: e("name", "-data"), want: []string{"-data"}},
		{name: "create name ending with .", module: relCreate, args: e("name", "data."), want: []string{"data."}},
		{name: "create name of 65 characters", module: relCreate, args: e("name", long65), want: []string{long65}},
		{name: "create plan volume name refused", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-01", "volume", "bad/name", "size_gb", 20))), want: []string{"bad/name"}},
		{name: "create hostname refused", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web_01", "size_gb", 20))), want: []string{"web_01"}},
		{name: "delete entry name refused", module: relDelete, args: e("volumes", list(e("id", "@id:vol-web-01", "name", "vol web"))), want: []string{"vol web"}},
		{name: "detach entry name refused", module: relDetach, args: e("volumes", list(e("name", "vol web"))), want: []string{"vol web"}},
		{name: "create bad label key", module: relCreate, args: e("labels", e("my role", "x")), want: []string{"my role"}},
		{name: "create location not a name", module: relCreate, args: e("location", "FSN1"), want: []string{"FSN1"}},
		// duplicates and conflicts
		{name: "create duplicate hostnames", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-01", "size_gb", 20), e("hostname", "web-01", "size_gb", 30))), want: []string{"web-01", "duplicate"}},
		{name: "create duplicate volume names", module: relCreate, args: e("name", nil, "size", nil, "location", nil, "volumes", list(e("hostname", "web-01", "volume", "shared", "size_gb", 20), e("hostname", "web-02", "volume", "shared", "size_gb", 20))), want: []string{"shared", "duplicate"}},
		{name: "attach duplicate hostnames", module: relAttach, args: e("volumes", list(e("hostname", "db-01", "size_gb", 50), e("hostname", "db-01", "size_gb", 50))), want: []string{"db-01", "duplicate"}},
		{name: "verify duplicate volume names", module: relVerify, args: e("volumes", list(e("hostname", "web-01", "volume", "v", "size_gb", 20), e("hostname", "web-02", "volume", "v", "size_gb", 20))), want: []string{"duplicate"}},
		{name: "info plan duplicate hostnames", module: relInfo, args: e("plan", list(e("hostname", "web-01", "size_gb", 20), e("hostname", "web-01", "size_gb", 20))), want: []string{"web-01", "duplicate"}},
		{name: "delete duplicate ids", module: relDelete, args: e("volumes", list(e("id", 1, "name", "vol-web-01"), e("id", 1, "name", "vol-web-02"))), want: []string{"duplicate"}},
		{name: "create name and volumes together", module: relCreate, args: e("volumes", list(e("hostname", "web-01", "size_gb", 20))), want: []string{"name", "volumes"}},
		{name: "create location and server together", module: relCreate, args: e("server", "web-01"), want: []string{"location", "server"}},
		{name: "delete id without name", module: relDelete, args: e("volumes", nil, "id", 1), want: []string{"name"}},
		{name: "delete entry without id", module: relDelete, args: e("volumes", list(e("name", "vol-web-01"))), want: []string{"id"}},
		{name: "detach entry without id or name", module: relDetach, args: e("volumes", list(e("server", "web-01"))), want: []string{"volumes"}},
		{name: "attach name without server", module: relAttach, args: e("volumes", nil, "name", "kbv3-web-01-data"), want: []string{"server"}},
		{name: "attach entry without hostname", module: relAttach, args: e("volumes", list(e("size_gb", 20))), want: []string{"hostname"}},
		// plans and selectors
		{name: "verify empty plan", module: relVerify, args: e("volumes", list()), want: []string{"volumes"}},
		{name: "verify without volumes", module: relVerify, args: e("volumes", nil), want: []string{"volumes"}},
		{name: "verify bad forbidden glob", module: relVerify, args: e("forbidden", list("vol-[")), want: []string{"vol-["}},
		{name: "info bad delete glob", module: relInfo, args: e("delete_names", list("vol-[")), want: []string{"vol-["}},
		{name: "info bad label selector", module: relInfo, args: e("delete_label_selector", "a in (b"), want: []string{"a in (b"}},
		// the args file
		{name: "malformed JSON args", module: relCreate, raw: `{"name": "kbv3-x-data", "size": `, want: []string{"json"}},
		{name: "args not an object", module: relDetach, raw: `["vol-web-01"]`, want: []string{"object"}},
		// the connection
		{name: "missing token", module: relCreate, noConn: true, args: e("api_endpoint", "@endpoint"), want: []string{"api_token"}},
		{name: "token with a space", module: relDetach, args: e("api_token", "abc def"), want: []string{"api_token"}},
		{name: "endpoint without /v1", module: relCreate, args: e("api_endpoint", "@base"), want: []string{"api_endpoint", "/v1"}},
		{name: "endpoint not http", module: relDelete, args: e("api_endpoint", "ftp://127.0.0.1/v1"), want: []string{"api_endpoint"}},
		{name: "unreachable endpoint", module: relInfo, args: e("api_endpoint", "http://127.0.0.1:1/v1", "timeout", 5), want: []string{"127.0.0.1:1"}},
	}
}

// TestBadInputModules runs every bad input through the module binaries against one simulator:
// each fails with a message naming the option or entry at fault, and nothing mutating reaches
// the API.
func TestBadInputModules(t *testing.T) {
	cases := badInputs()
	if len(cases) < 40 {
		t.Fatalf("only %d bad inputs", len(cases))
	}
	s := relSim(t, e2e.SmallFleet(), simproc.Token)
	base := strings.TrimSuffix(s.Endpoint, "/v1")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.ResetStats(); err != nil {
				t.Fatal(err)
			}
			var res map[string]any
			var out string
			env := append([]string{}, c.env...)
			if c.raw != "" {
				res, out = relModuleRaw(t, c.module, []byte(c.raw), append(env, s.Env()...))
			} else {
				args := badBase(c.module)
				if !c.noConn {
					args["api_token"], args["api_endpoint"] = s.Token, s.Endpoint
				}
				for k, v := range c.args {
					switch v {
					case nil:
						delete(args, k)
					case "@endpoint":
						args[k] = s.Endpoint
					case "@base":
						args[k] = base
					default:
						args[k] = v
					}
				}
				res, out = relModule(t, c.module, relResolveIDs(t, s, args).(map[string]any), env)
			}
			msg, _ := res["msg"].(string)
			p := &relProblems{t: t}
			if res["failed"] != true {
				p.add("did not fail: %s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
					p.add("msg does not name %q: %q", w, msg)
				}
			}
			if strings.Contains(out, s.Token) {
				p.add("the token appears in the output")
			}
			st := relStats(t, s)
			if st.Requests.Mutating != 0 {
				p.add("%d mutating requests reached the API: %v", st.Requests.Mutating, st.Requests.ByRoute)
			}
			t.Logf("msg: %s (requests: %d)", msg, st.Requests.Total)
			p.done()
		})
	}
	// The fleet is as it was.
	st := relState(t, s)
	if n := len(st.Volumes); n != len(e2e.SmallFleet().Volumes) {
		t.Errorf("%d volumes after the bad inputs, want %d", n, len(e2e.SmallFleet().Volumes))
	}
}

// relResolveIDs replaces "@id:NAME" anywhere in v by the id of volume NAME in the simulator.
func relResolveIDs(t *testing.T, s *simproc.Sim, v any) any {
	switch x := v.(type) {
	case string:
		if name, ok := strings.CutPrefix(x, "@id:"); ok {
			vol, found := relState(t, s).Volume(name)
			if !found {
				t.Fatalf("no volume %s in the simulator", name)
			}
			return vol.ID
		}
	case map[string]any:
		for k, e := range x {
			x[k] = relResolveIDs(t, s, e)
		}
	case []any:
		for i, e := range x {
			x[i] = relResolveIDs(t, s, e)
		}
	}
	return v
}
