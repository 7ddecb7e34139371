package ansible

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// FuzzDecodeOptions feeds arbitrary args files through the whole protocol: whatever the bytes,
// the module prints one JSON object with "changed", exits 1 exactly when it says failed, and
// DecodeOptions agrees with Execute on whether the options are valid.
func FuzzDecodeOptions(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`not json`,
		`[1, 2]`,
		`{"name": "v", "size": "10", "force": "yes", "ratio": 1e3, "count": 3.0, "_ansible_diff": true}`,
		`{"tags": "a,b", "ports": ["80", 443], "labels": "env=prod team='a b'", "flag": 0}`,
		`{"labels": "{\"a\": 1}", "names": null, "big": 99999999999999999999}`,
		`{"volumes": ["hostname=a size_gb=1", {"hostname": "b", "size_gb": "2", "zz": 1}], "one": "x"}`,
		`{"one": {"hostname": "h", "size_gb": 1, "password": "pw-secret", "labels": {"k": [1]}}}`,
		`{"api_token": "abc", "state": "ABSENT", "count": -1, "_ansible_verbosity": "3"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		ran := false
		code := Execute(context.Background(), everythingSpec, data, nil, &buf,
			func(_ context.Context, m *Module, o *everything) (*Result, error) {
				ran = true
				m.Warn("decoded %v", o.Name)
				return &Result{Values: map[string]any{"options": o}}, nil
			})
		var out map[string]any
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatalf("output is not a JSON object: %v: %q", err, buf.String())
		}
		if _, ok := out["changed"]; !ok {
			t.Fatalf("no changed: %q", buf.String())
		}
		if failed := out["failed"] == true; failed != (code == 1) || failed == ran {
			t.Fatalf("exit %d, ran %v: %q", code, ran, buf.String())
		}
		var args map[string]any
		if decodeJSON(data, &args) == nil && args != nil {
			_, err := DecodeOptions[everything](everythingSpec, args, nil)
			if (err == nil) != ran {
				t.Fatalf("DecodeOptions error %v, Execute ran %v", err, ran)
			}
		}
	})
}
