package volumes

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A run's records (its pre-change snapshot, its report) are written under names of their own,
// and the stable path a user knows (servers/existing_volumes_hetzner.json,
// reports/volume_reset_v3.md) becomes a symbolic link to the latest one: no run deletes or
// replaces another's record, and the latest is where it always was.

// newRunID names a run: its start in UTC, sortable, and a random suffix for runs started in the
// same second.
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// runPath is the run's own file beside stable: "dir/base-RUNID.ext".
func runPath(stable, runID string) string {
	ext := filepath.Ext(stable)
	return strings.TrimSuffix(stable, ext) + "-" + runID + ext
}

// publish writes data to the run's own file and points stable at it. A regular file found at
// stable (written before records were kept per run) is kept under its modification time's name
// first. It returns the run's file.
func publish(stable, runID string, data []byte) (string, error) {
	own := runPath(stable, runID)
	if _, err := writeFileIfChanged(own, data); err != nil {
		return "", err
	}
	if fi, err := os.Lstat(stable); err == nil && fi.Mode().IsRegular() {
		kept := runPath(stable, fi.ModTime().UTC().Format("20060102T150405Z")+"-before-runs")
		if err := os.Rename(stable, kept); err != nil {
			return "", fmt.Errorf("keeping %s as %s: %w", stable, kept, err)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	// A link made beside the target and renamed over stable replaces it atomically.
	tmp := filepath.Join(filepath.Dir(stable), "."+filepath.Base(stable)+"."+runID+".link")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(own), tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, stable); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return own, nil
}
