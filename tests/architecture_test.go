package tests

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArchitectureImports: the import list of docs/ARCHITECTURE.md is the source's, arrow for
// arrow, so the picture a maintainer reads first cannot drift from the code.
func TestArchitectureImports(t *testing.T) {
	root := docRepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```text imports\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, block, "ARCHITECTURE.md has a ```text imports block")
	documented := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(block[1])), "\n") {
		pkg, deps, ok := strings.Cut(line, ": ")
		require.True(t, ok, "line %q is `package: imports`", line)
		documented[pkg] = strings.Fields(deps)
	}
	assert.Equal(t, documented, sourceImports(t, root))
}

// sourceImports maps each package under internal/, cmd/ and modules/ (modules/* as one) to the
// repository's packages its non-test files import, sorted; packages importing none are left out.
func sourceImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	const module = "github.com/keybuzz/kbv3/"
	fset := token.NewFileSet()
	out := map[string][]string{}
	for _, top := range []string{"internal", "cmd", "modules"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			pkg := filepath.ToSlash(rel)
			if strings.HasPrefix(pkg, "modules/") {
				pkg = "modules/*"
			}
			for _, imp := range f.Imports {
				if dep, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), module); ok && !slices.Contains(out[pkg], dep) {
					out[pkg] = append(out[pkg], dep)
				}
			}
			return nil
		})
		require.NoError(t, err)
	}
	for _, deps := range out {
		sort.Strings(deps)
	}
	return out
}
