package plan_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
)

// FuzzParse: Parse never panics, and whatever it accepts survives Validate and re-encodes to
// something it accepts again, byte for byte stable.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(shippedPlan); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		`{"version": 1, "volumes": [{"hostname": "a-01", "size_gb": 20, "labels": {"a": "b"}}]}`,
		`{"version": 1, "volumes": [{"hostname": "a-01", "sise_gb": 20}]}`,
		`{"version": 1, "volumes": [{"hostname": "a", "hostname": "b"}]}`,
		`{"version": 1, "volumes": null}`,
		`{"version": 1, "volumes": [null, 1, "x", []]}`,
		`{"version": 1.5}`,
		`[]`, `null`, `{`, ``, `{"volumes": [{"labels": {"a": {"b": 1}}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.Parse(data)
		if err != nil {
			require.Nil(t, p)
			return
		}
		_ = p.Validate()
		p.Only([]string{"a-01"})
		once, err := p.Encode()
		require.NoError(t, err)
		again, err := plan.Parse(once)
		require.NoError(t, err, "%s", once)
		twice, err := again.Encode()
		require.NoError(t, err)
		require.Equal(t, string(once), string(twice))
	})
}

// FuzzParseDiff: ParseDiff never panics; an accepted diff validates without panicking and
// re-encodes stably.
func FuzzParseDiff(f *testing.F) {
	for _, s := range []string{
		`{"version": 1, "selector": {"names": ["vol-*"], "label_selector": "a in (b,c),!d"}, "delete": [{"id": 1, "name": "vol-a", "server": "a-01", "size_gb": 10}], "create": [{"hostname": "a-01", "volume": "kbv3-a-01-data", "size_gb": 20, "location": "fsn1"}], "keep": [{"hostname": "b-01", "volume": "kbv3-b-01-data", "id": 3, "size_gb": 50, "location": "fsn1", "server": "b-01"}], "mismatch": [{"hostname": "c-01", "volume": "kbv3-c-01-data", "id": 4, "size_gb": 20, "location": "fsn1", "fields": ["size_gb: plan 30, live 20"]}], "protected": [{"id": 6, "name": "vol-locked"}]}`,
		`{"version": 1, "delete": [{"id": 1, "nmae": "x"}]}`,
		`{"version": 1, "delete": [{"id": -1, "name": ""}, {"id": -1, "name": ""}]}`,
		`{"version": 1, "selector": {"label_selector": "((("}}`,
		`{"version": 1, "keep": [1], "mismatch": [{"fields": [1]}]}`,
		`{}`, `null`, `{"version": 1,`,
	} {
		f.Add([]byte(s))
	}
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{{Hostname: "a-01", SizeGB: 20}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := plan.ParseDiff(data)
		if err != nil {
			require.Nil(t, d)
			return
		}
		_ = d.Validate(p)
		_ = d.Validate(nil)
		once, err := d.Encode()
		require.NoError(t, err)
		again, err := plan.ParseDiff(once)
		require.NoError(t, err, "%s", once)
		twice, err := again.Encode()
		require.NoError(t, err)
		require.Equal(t, string(once), string(twice))
	})
}
