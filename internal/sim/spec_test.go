package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// The shapes below are written by hand from the Hetzner Cloud OpenAPI spec
// (reference/hcloud-openapi.json of the project's shared files, components.schemas): for each
// object, the fields the spec marks required and their JSON types, nullable where the spec says
// so, and the values of the string fields the spec enumerates. The spec itself is not read
// here: tests must not depend on files outside the module.

// field is one field of the spec: its JSON type ("string", "integer", "number", "boolean",
// "object", "array"), whether null is allowed, whether it may be absent, and for objects and
// arrays of objects the shape to check inside.
type field struct {
	kind     string
	nullable bool
	optional bool
	shape    shape    // object fields, or the fields of each array item
	enum     []string // the values a string may take, when the spec lists them
}

// shape is the required (and some optional) fields of an object.
type shape map[string]field

var (
	str     = field{kind: "string"}
	integer = field{kind: "integer"}
	number  = field{kind: "number"}
	boolean = field{kind: "boolean"}
	anyObj  = field{kind: "object"}
	anyArr  = field{kind: "array"}
)

func obj(s shape) field            { return field{kind: "object", shape: s} }
func arrOf(s shape) field          { return field{kind: "array", shape: s} }
func null(f field) field           { f.nullable = true; return f }
func optional(f field) field       { f.optional = true; return f }
func oneOf(values ...string) field { return field{kind: "string", enum: values} }

// specLocation is components.schemas.location.
var specLocation = shape{
	"city": str, "country": str, "description": str, "id": integer, "latitude": number,
	"longitude": number, "name": str, "network_zone": str,
}

// specVolume is components.schemas.volume.
var specVolume = shape{
	"created": str, "format": null(str), "id": integer, "labels": anyObj, "linux_device": str,
	"location": obj(specLocation), "name": str, "protection": obj(shape{"delete": boolean}),
	"server": null(integer), "size": number, "status": oneOf("available", "creating"),
}

// specAction is components.schemas.action.
var specAction = shape{
	"command": str, "error": null(obj(shape{"code": str, "message": str})), "finished": null(str),
	"id": integer, "progress": integer, "resources": arrOf(shape{"id": integer, "type": str}),
	"started": str, "status": oneOf("error", "running", "success"),
}

// specDatacenter is components.schemas.datacenter.
var specDatacenter = shape{
	"description": str, "id": integer, "location": obj(specLocation), "name": str,
	"server_types": obj(shape{"available": anyArr, "available_for_migration": anyArr, "supported": anyArr}),
}

// specPagination is components.schemas.pagination; specMeta is components.schemas.meta.
var (
	specPagination = shape{
		"last_page": null(integer), "next_page": null(integer), "page": integer, "per_page": integer,
		"previous_page": null(integer), "total_entries": null(integer),
	}
	specMeta = shape{"pagination": obj(specPagination)}
)

// specError is components.schemas.error_response; details is optional and nullable.
var specError = shape{
	"error": obj(shape{"code": str, "message": str, "details": optional(null(anyObj))}),
}

var (
	specDeprecation = shape{"announced": str, "unavailable_after": str}
	specPrice       = shape{"gross": str, "net": str}
)

// specImage is components.schemas.image.
var specImage = shape{
	"architecture": oneOf("arm", "x86"),
	"bound_to":     null(integer),
	"created":      str,
	"created_from": null(obj(shape{"id": integer, "name": str})),
	"deleted":      null(str),
	"deprecated":   null(str),
	"description":  str,
	"disk_size":    number,
	"id":           integer,
	"image_size":   null(number),
	"labels":       anyObj,
	"name":         null(str),
	"os_flavor":    oneOf("alma", "centos", "debian", "fedora", "opensuse", "rocky", "ubuntu", "unknown"),
	"os_version":   null(str),
	"protection":   obj(shape{"delete": boolean}),
	"status":       oneOf("available", "creating", "unavailable"),
	"type":         oneOf("app", "backup", "snapshot", "system"),
}

// specServerType is components.schemas.server_type.
var specServerType = shape{
	"architecture": oneOf("arm", "x86"),
	"cores":        integer,
	"cpu_type":     oneOf("dedicated", "shared"),
	"deprecated":   null(boolean),
	"description":  str,
	"disk":         number,
	"id":           integer,
	"locations":    arrOf(shape{"deprecation": null(obj(specDeprecation)), "id": integer, "name": str}),
	"memory":       number,
	"name":         str,
	"prices": arrOf(shape{
		"included_traffic": integer, "location": str, "price_hourly": obj(specPrice),
		"price_monthly": obj(specPrice), "price_per_tb_traffic": obj(specPrice),
	}),
	"storage_type": oneOf("local", "network"),
}

// specServer is components.schemas.server.
var specServer = shape{
	"backup_window": null(str), "created": str, "datacenter": obj(specDatacenter), "id": integer,
	"image": null(obj(specImage)), "included_traffic": null(integer), "ingoing_traffic": null(integer),
	"iso":    null(obj(shape{"description": str, "id": integer, "name": null(str), "type": null(str)})),
	"labels": anyObj, "location": obj(specLocation), "locked": boolean, "name": str,
	"outgoing_traffic": null(integer), "primary_disk_size": integer, "private_net": anyArr,
	"protection": obj(shape{"delete": boolean, "rebuild": boolean}),
	"public_net": obj(shape{
		"floating_ips": anyArr,
		"ipv4":         null(obj(shape{"blocked": boolean, "dns_ptr": str, "ip": str})),
		"ipv6":         null(obj(shape{"blocked": boolean, "dns_ptr": null(arrOf(shape{"dns_ptr": str, "ip": str})), "ip": str})),
	}),
	"rescue_enabled": boolean, "server_type": obj(specServerType),
	"status": oneOf("deleting", "initializing", "migrating", "off", "rebuilding", "running", "starting", "stopping", "unknown"),
	// Optional in the spec, but the simulator always sends them (the CLI reads volumes).
	"volumes": optional(anyArr), "load_balancers": optional(anyArr),
}

// The response bodies, as in paths.*.responses.
var (
	specVolumeResponse = shape{"volume": obj(specVolume)}
	specVolumeList     = shape{"volumes": arrOf(specVolume), "meta": obj(specMeta)}
	specVolumeCreate   = shape{"volume": obj(specVolume), "action": obj(specAction), "next_actions": arrOf(specAction)}
	specActionResponse = shape{"action": obj(specAction)}
	specActionList     = shape{"actions": arrOf(specAction), "meta": obj(specMeta)}
	// GET /actions: the spec requires only "actions"; the simulator sends meta too.
	specActionsByID    = shape{"actions": arrOf(specAction), "meta": optional(obj(specMeta))}
	specServerResponse = shape{"server": obj(specServer)}
	specServerList     = shape{"servers": arrOf(specServer), "meta": obj(specMeta)}
	specLocationResp   = shape{"location": obj(specLocation)}
	specLocationList   = shape{"locations": arrOf(specLocation), "meta": obj(specMeta)}
	specDatacenterResp = shape{"datacenter": obj(specDatacenter)}
	specDatacenterList = shape{"datacenters": arrOf(specDatacenter), "meta": obj(specMeta), "recommendation": integer}
)

// conform returns every way v (decoded with UseNumber) departs from s, each prefixed by path.
func conform(path string, v any, s shape) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object, got %T", path, v)}
	}
	var problems []string
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := s[k]
		p := path + "." + k
		val, present := m[k]
		if !present {
			if !f.optional {
				problems = append(problems, p+": missing (required)")
			}
			continue
		}
		problems = append(problems, conformField(p, val, f)...)
	}
	return problems
}

func conformField(p string, val any, f field) []string {
	if val == nil {
		if f.nullable {
			return nil
		}
		return []string{p + ": null, but the spec does not allow null"}
	}
	switch f.kind {
	case "string":
		sv, ok := val.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want string, got %T", p, val)}
		}
		if len(f.enum) > 0 && !slices.Contains(f.enum, sv) {
			return []string{fmt.Sprintf("%s: %q is not one of %v", p, sv, f.enum)}
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			return []string{fmt.Sprintf("%s: want boolean, got %T", p, val)}
		}
	case "integer", "number":
		n, ok := val.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: want %s, got %T", p, f.kind, val)}
		}
		if f.kind == "integer" && strings.ContainsAny(n.String(), ".eE") {
			return []string{fmt.Sprintf("%s: want integer, got %s", p, n)}
		}
	case "object":
		if _, ok := val.(map[string]any); !ok {
			return []string{fmt.Sprintf("%s: want object, got %T", p, val)}
		}
		if f.shape != nil {
			return conform(p, val, f.shape)
		}
	case "array":
		items, ok := val.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want array, got %T", p, val)}
		}
		var problems []string
		for i, it := range items {
			if f.shape != nil {
				problems = append(problems, conform(fmt.Sprintf("%s[%d]", p, i), it, f.shape)...)
			}
		}
		return problems
	default:
		return []string{p + ": unknown kind " + f.kind}
	}
	return nil
}

// specCall makes one API call and checks its status and body against s; it returns the body.
func specCall(t *testing.T, e *env, method, path, body string, status int, s shape) map[string]any {
	t.Helper()
	r := e.api(t, method, path, body)
	require.Equal(t, status, r.status, "%s %s: %s", method, path, r.raw)
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "%s %s", method, path)
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v), "%s %s: %s", method, path, r.raw)
	if problems := conform(method+" "+path, v, s); len(problems) > 0 {
		t.Errorf("%s %s does not conform to the spec:\n  %s\nbody: %s", method, path, strings.Join(problems, "\n  "), r.raw)
	}
	return v
}

func idOf(t *testing.T, v map[string]any, key string) string {
	t.Helper()
	inner, ok := v[key].(map[string]any)
	require.True(t, ok, key)
	return inner["id"].(json.Number).String()
}

// TestSpecConformance checks the simulator's answers, for every route and state the clients
// meet (running, finished and failed actions; attached and detached volumes; errors), against
// the fields the OpenAPI spec requires.
func TestSpecConformance(t *testing.T) {
	cfg := fast("ph3-02")
	cfg.Token = simtest.Token
	e := start(t, cfg)
	minio := e.volume(t, "vol-minio-01")
	minioID := fmt.Sprint(minio.ID)
	server := fmt.Sprint(minio.Server.ID)
	loc := minio.Location.Name

	specCall(t, e, "GET", "/volumes", "", 200, specVolumeList)
	specCall(t, e, "GET", "/volumes?page=2&per_page=10", "", 200, specVolumeList)
	specCall(t, e, "GET", "/volumes?name=nope", "", 200, specVolumeList)
	specCall(t, e, "GET", "/volumes/"+minioID, "", 200, specVolumeResponse)
	specCall(t, e, "GET", "/servers", "", 200, specServerList)
	specCall(t, e, "GET", "/servers?name=minio-01", "", 200, specServerList)
	specCall(t, e, "GET", "/servers/"+server, "", 200, specServerResponse)
	specCall(t, e, "GET", "/locations", "", 200, specLocationList)
	specCall(t, e, "GET", "/locations/1", "", 200, specLocationResp)
	specCall(t, e, "GET", "/datacenters", "", 200, specDatacenterList)
	specCall(t, e, "GET", "/datacenters/4", "", 200, specDatacenterResp)

	// A volume created on a server: create_volume running, attach_volume waiting in next_actions.
	created := specCall(t, e, "POST", "/volumes", fmt.Sprintf(`{"name":"spec-01","size":10,"server":%s,"format":"xfs"}`, server), 201, specVolumeCreate)
	volID := idOf(t, created, "volume")
	running := specCall(t, e, "GET", "/actions/"+idOf(t, created, "action"), "", 200, specActionResponse)
	require.Contains(t, []any{"running", "success"}, running["action"].(map[string]any)["status"])
	specCall(t, e, "GET", "/actions?id="+idOf(t, created, "action"), "", 200, specActionsByID)
	e.waitIDs(t, e.volumeActionIDs(t, volID)...)

	// Finished actions, the attached volume, a server with two volumes.
	specCall(t, e, "GET", "/volumes/"+volID, "", 200, specVolumeResponse)
	specCall(t, e, "GET", "/volumes/"+volID+"/actions", "", 200, specActionList)
	specCall(t, e, "GET", "/volumes/actions", "", 200, specActionList)
	specCall(t, e, "GET", "/servers/"+server, "", 200, specServerResponse)
	specCall(t, e, "PUT", "/volumes/"+volID, `{"labels":{"k":"v"}}`, 200, specVolumeResponse)

	// Every volume action's answer, and a failed action.
	detach := specCall(t, e, "POST", "/volumes/"+volID+"/actions/detach", "", 201, specActionResponse)
	e.waitIDs(t, idOf(t, detach, "action"))
	attach := specCall(t, e, "POST", "/volumes/"+volID+"/actions/attach", fmt.Sprintf(`{"server":%s}`, server), 201, specActionResponse)
	e.waitIDs(t, idOf(t, attach, "action"))
	resize := specCall(t, e, "POST", "/volumes/"+volID+"/actions/resize", `{"size":20}`, 201, specActionResponse)
	e.waitIDs(t, idOf(t, resize, "action"))
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/volumes/*/actions/change_protection", Effect: sim.EffectActionError}))
	prot := specCall(t, e, "POST", "/volumes/"+volID+"/actions/change_protection", `{"delete":true}`, 201, specActionResponse)
	e.waitIDs(t, idOf(t, prot, "action"))
	failed := specCall(t, e, "GET", "/volumes/"+volID+"/actions/"+idOf(t, prot, "action"), "", 200, specActionResponse)
	require.Equal(t, "error", failed["action"].(map[string]any)["status"])
	require.NotNil(t, failed["action"].(map[string]any)["error"])

	// Errors: every one is the envelope.
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/volumes/999999999", "", 404},
		{"GET", "/nope", "", 404},
		{"POST", "/volumes", `{"name":"bad name","size":10,"location":"fsn1"}`, 422},
		{"POST", "/volumes", `{"name":"vol-minio-01","size":10,"location":"` + loc + `"}`, 409},
		{"POST", "/volumes", `{`, 400},
		{"POST", "/volumes/" + minioID + "/actions/attach", fmt.Sprintf(`{"server":%s}`, server), 422},
		{"DELETE", "/volumes/" + minioID, "", 422},
		{"GET", "/volumes?sort=nope", "", 422},
	} {
		specCall(t, e, c.method, c.path, c.body, c.status, specError)
	}
	r := e.do(t, "GET", e.endpoint+"/volumes", "", "wrong-token")
	require.Equal(t, http.StatusUnauthorized, r.status)
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v))
	require.Empty(t, conform("401", v, specError))
}

// waitIDs polls GET /actions/{id} until none of the actions runs (at most 5 s).
func (e *env) waitIDs(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, id := range ids {
		for {
			r := e.api(t, "GET", "/actions/"+id, "")
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			if r.body["action"].(map[string]any)["status"] != "running" {
				break
			}
			require.True(t, time.Now().Before(deadline), "action %s still running", id)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// volumeActionIDs are the ids of a volume's actions, oldest first.
func (e *env) volumeActionIDs(t *testing.T, volID string) []string {
	t.Helper()
	r := e.api(t, "GET", "/volumes/"+volID+"/actions?sort=id", "")
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var ids []string
	for _, a := range r.body["actions"].([]any) {
		ids = append(ids, fmt.Sprint(int64(a.(map[string]any)["id"].(float64))))
	}
	return ids
}

// TestSpecShapesCatchDepartures makes sure conform is not vacuous: a real answer, broken in
// five ways, gives five problems.
func TestSpecShapesCatchDepartures(t *testing.T) {
	e := start(t, fast("ph3-02"))
	r := e.api(t, "GET", "/volumes/"+fmt.Sprint(e.volume(t, "vol-minio-01").ID), "")
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v))
	require.Empty(t, conform("ok", v, specVolumeResponse))

	vol := v["volume"].(map[string]any)
	delete(vol, "linux_device")
	vol["id"] = json.Number("1.5")
	vol["location"] = nil
	vol["protection"] = map[string]any{"delete": "no"}
	vol["size"] = json.Number("10.5") // a number: fine
	vol["status"] = "attached"
	require.ElementsMatch(t, []string{
		`v.volume.status: "attached" is not one of [available creating]`,
		"v.volume.id: want integer, got 1.5",
		"v.volume.linux_device: missing (required)",
		"v.volume.location: null, but the spec does not allow null",
		"v.volume.protection.delete: want boolean, got string",
	}, conform("v", v, specVolumeResponse))
}

var (
	specServerTypeResp = shape{"server_type": obj(specServerType)}
	specServerTypeList = shape{"server_types": arrOf(specServerType), "meta": obj(specMeta)}
	specImageResp      = shape{"image": obj(specImage)}
	specImageList      = shape{"images": arrOf(specImage), "meta": obj(specMeta)}
	// components.schemas.create_server_response.
	specServerCreate = shape{
		"server": obj(specServer), "action": obj(specAction), "next_actions": arrOf(specAction),
		"root_password": null(str),
	}
)

// TestSpecConformanceServers checks the answers the official collection's server modules and
// python3-hcloud 2.x meet: server types, images, creating, renaming and deleting servers.
func TestSpecConformanceServers(t *testing.T) {
	e := start(t, fast("ph3-02"))
	specCall(t, e, "GET", "/server_types", "", 200, specServerTypeList)
	specCall(t, e, "GET", "/server_types?name=cax11", "", 200, specServerTypeList)
	specCall(t, e, "GET", "/server_types/45", "", 200, specServerTypeResp)
	specCall(t, e, "GET", "/images", "", 200, specImageList)
	specCall(t, e, "GET", "/images?name=ubuntu-20.04&architecture=arm&include_deprecated=True", "", 200, specImageList)
	specCall(t, e, "GET", "/images/114690387", "", 200, specImageResp)

	created := specCall(t, e, "POST", "/servers", `{"name":"spec-srv-01","server_type":"cax11","image":"debian-12","location":"hel1","labels":{"k":"v"},"start_after_create":true,"public_net":{"enable_ipv4":true,"enable_ipv6":true}}`, 201, specServerCreate)
	id := idOf(t, created, "server")
	require.Len(t, created["next_actions"], 1)
	bare := specCall(t, e, "POST", "/servers", `{"name":"spec-srv-02","server_type":22,"image":161547269,"datacenter":"ash-dc1","start_after_create":false,"public_net":{"enable_ipv4":false,"enable_ipv6":true}}`, 201, specServerCreate)
	require.Empty(t, bare["next_actions"])
	require.Nil(t, bare["server"].(map[string]any)["public_net"].(map[string]any)["ipv4"])
	e.waitIDs(t, idOf(t, created, "action"), created["next_actions"].([]any)[0].(map[string]any)["id"].(json.Number).String(), idOf(t, bare, "action"))
	specCall(t, e, "GET", "/servers/"+id, "", 200, specServerResponse)
	off := specCall(t, e, "POST", "/servers/"+id+"/actions/poweroff", "", 201, specActionResponse)
	e.waitIDs(t, idOf(t, off, "action"))
	prot := specCall(t, e, "POST", "/servers/"+id+"/actions/change_protection", `{"delete":false,"rebuild":false}`, 201, specActionResponse)
	e.waitIDs(t, idOf(t, prot, "action"))
	specCall(t, e, "GET", "/servers/"+id+"/actions", "", 200, specActionList)
	specCall(t, e, "GET", "/servers/"+id+"/actions/"+idOf(t, off, "action"), "", 200, specActionResponse)
	specCall(t, e, "GET", "/servers/actions?status=success", "", 200, specActionList)
	specCall(t, e, "GET", "/servers/actions/"+idOf(t, off, "action"), "", 200, specActionResponse)
	specCall(t, e, "PUT", "/servers/"+id, `{"name":"spec-srv-03","labels":{}}`, 200, specServerResponse)
	specCall(t, e, "GET", "/servers?name=spec-srv-03", "", 200, specServerList)
	deleted := specCall(t, e, "DELETE", "/servers/"+id, "", 200, specActionResponse)
	require.Equal(t, "delete_server", deleted["action"].(map[string]any)["command"])

	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/server_types/1", "", 404},
		{"GET", "/images/1", "", 404},
		{"GET", "/images?architecture=sparc", "", 422},
		{"POST", "/servers", `{"name":"x","server_type":"cx22","image":"nope"}`, 422},
		{"POST", "/servers", `{"name":"minio-01","server_type":"cx22","image":"debian-12"}`, 409},
		{"DELETE", "/servers/" + id, "", 404},
	} {
		specCall(t, e, c.method, c.path, c.body, c.status, specError)
	}
}
