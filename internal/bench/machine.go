package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
type Machine struct {
	CPU, Kernel, Memory string
	NProc               int
	Versions            [][2]string // tool, version
}

// DescribeMachine reads /proc and asks each tool its version (each call bounded to 20 s).
func DescribeMachine(ctx context.Context, repo string) Machine {
	m := Machine{NProc: runtime.NumCPU(), CPU: "unknown", Memory: "unknown", Kernel: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "MemTotal:") {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(sc.Text(), "MemTotal:")), &kb)
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	first := func(name string, argv ...string) {
		m.Versions = append(m.Versions, [2]string{name, firstLine(ctx, repo, argv...)})
	}
	first("Go", "go", "version")
	first("ansible-core", "ansible", "--version")
	first("Debian ansible (community) package", "dpkg-query", "-W", "-f", "${Version}", "ansible")
	m.Versions = append(m.Versions, [2]string{"hetzner.hcloud collection", collectionVersion()})
	first("hcloud CLI (Debian hcloud-cli)", "dpkg-query", "-W", "-f", "${Version}", "hcloud-cli")
	first("python3-hcloud", "dpkg-query", "-W", "-f", "${Version}", "python3-hcloud")
	first("Python (modules)", "/usr/bin/python3", "--version")
	first("jq", "jq", "--version")
	return m
}

func firstLine(ctx context.Context, dir string, argv ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unavailable (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// collectionDir is where Debian's ansible package puts hetzner.hcloud.
const collectionDir = "/usr/lib/python3/dist-packages/ansible_collections/hetzner/hcloud"

func collectionVersion() string {
	data, err := os.ReadFile(filepath.Join(collectionDir, "MANIFEST.json"))
	if err != nil {
		return "unavailable"
	}
	var man struct {
		CollectionInfo struct {
			Version string `json:"version"`
		} `json:"collection_info"`
	}
	if json.Unmarshal(data, &man) != nil {
		return "unreadable MANIFEST.json"
	}
	return man.CollectionInfo.Version + " (" + collectionDir + ")"
}
