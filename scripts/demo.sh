#!/usr/bin/env bash
# The PH3-02 volume reset, end to end, against hcloud-sim: what `make demo` runs after the build.
# It starts the simulator on a free port with the report's fleet, computes and shows the diff,
# runs the reset, checks the result with the report's own `hcloud` CLI commands, then shows that a
# --check rerun changes nothing. The simulator is stopped however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\nDEMO FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A token unlike any resource name: Ansible masks no_log values inside results wherever they occur.
# 64 characters, as the hcloud CLI wants.
export HCLOUD_TOKEN="demo$(od -An -N30 -tx1 /dev/urandom | tr -d ' \n')"
demo_start=$(date +%s)

# Actions take the simulator's realistic times (attach and detach 3 s, create 1 s, delete 300 ms).
step "Starting hcloud-sim with the ph3-02 fleet (47 servers, 40 old vol-* volumes, 1 unrelated volume)"
./bin/hcloud-sim --addr 127.0.0.1:0 --scenario ph3-02 --token "$HCLOUD_TOKEN" \
  --log-level error >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
endpoint=""
for _ in $(seq 100); do
  endpoint=$(head -n1 "$work/sim.out" 2>/dev/null || true)
  [ -n "$endpoint" ] && break
  kill -0 "$sim_pid" 2>/dev/null || fail "hcloud-sim exited: $(cat "$work/sim.err")"
  sleep 0.1
done
[ -n "$endpoint" ] || fail "hcloud-sim printed no endpoint within 10 s"
export HCLOUD_ENDPOINT="$endpoint"
echo "endpoint: $HCLOUD_ENDPOINT"

rm -f servers/volume_diff_v3.json
step "hcloud volume list (before)"
before=$(hcloud volume list -o noheader -o columns=name,size,server,location | sort -k1)
hcloud volume list -o columns=name,size,server,location | awk 'NR == 1'
awk 'NR <= 11' <<<"$before"
echo "... $(wc -l <<<"$before") volumes in all"

step "ansible-playbook playbooks/volume_diff_v3.yml (computes servers/volume_diff_v3.json for review)"
ansible-playbook playbooks/volume_diff_v3.yml

step "ansible-playbook playbooks/volume_reset_v3.yml"
start=$(date +%s)
ansible-playbook playbooks/volume_reset_v3.yml | tee "$work/reset.log"
echo "reset took $(( $(date +%s) - start )) s"

step "The report's checks, with the hcloud CLI"
kbv3=$(hcloud volume list -o noheader -o columns=name | grep -c '^kbv3-' || true)
old=$(hcloud volume list -o noheader -o columns=name | grep -c '^vol-' || true)
echo "kbv3- volumes: $kbv3 (expected 47)"
echo "vol- volumes left: $old (expected 0)"
misplaced=$(hcloud volume list -o noheader -o columns=name,server | awk '$1 ~ /^kbv3-/ { want = $1; sub(/^kbv3-/, "", want); sub(/-data$/, "", want); if ($2 != want) print }')
[ -z "$misplaced" ] && echo "every kbv3- volume is attached to its own server" || echo "misplaced: $misplaced"
archive=$(hcloud volume list -o noheader -o columns=name,size,server | grep '^keybuzz-archive-01 ' || true)
echo "unrelated volume: ${archive:-MISSING}"
after=$(hcloud volume list -o noheader -o columns=name,size,server | sort -k1)
awk 'NR <= 8' <<<"$after"
echo "... $(wc -l <<<"$after") volumes in all"
[ "$kbv3" = 47 ] && [ "$old" = 0 ] && [ -z "$misplaced" ] && [ -n "$archive" ] || fail "the fleet does not match the plan"

step "ansible-playbook playbooks/volume_reset_v3.yml --check (a rerun predicts no change)"
ansible-playbook playbooks/volume_reset_v3.yml --check | tee "$work/check.log"
grep -Eq 'changed=0 .*failed=0' "$work/check.log" || fail "the --check rerun predicts changes"

requests=$(curl -fsS "${HCLOUD_ENDPOINT%/v1}/_sim/stats" 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print("{} API requests, {} of them mutating".format(r["total"], r["mutating"]))' 2>/dev/null || echo "stats unavailable")
step "Done in $(( $(date +%s) - demo_start )) s: 40 old volumes deleted, 47 created and attached, report in reports/volume_reset_v3.md ($requests)"
