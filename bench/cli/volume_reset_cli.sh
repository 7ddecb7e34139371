#!/usr/bin/env bash
# PH3-02 volume reset the way the report did it: the hcloud CLI in a Bash loop, batches of 10
# commands started with `&` and awaited with `wait`. It reads the same plan and reviewed diff as
# playbooks/volume_reset_v3.yml (with jq) and runs the same stages.
#
#   HCLOUD_TOKEN=... HCLOUD_ENDPOINT=http://127.0.0.1:PORT/v1 bench/cli/volume_reset_cli.sh \
#     [PLAN [DIFF [SNAPSHOT]]]
#
# Exit status: 0 when every command succeeded and the fleet matches the plan, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
plan=${1:-$root/servers/volume_plan_v3.json}
diff=${2:-$root/servers/volume_diff_v3.json}
snapshot=${3:-$root/servers/existing_volumes_hetzner.json}
batch_size=${BATCH_SIZE:-10}
: "${HCLOUD_TOKEN:?set HCLOUD_TOKEN}"
# No context file: the token and the endpoint come from the environment only.
export HCLOUD_CONFIG=${HCLOUD_CONFIG:-$(mktemp -u /tmp/hcloud-cli-config.XXXXXX)}

failures=0

# run_batches STAGE: reads one command per line (already quoted for eval) on stdin and runs
# them batch_size at a time, in the background, waiting for each batch before the next.
run_batches() {
  local stage=$1 n=0 batch=0 cmd pid
  local -a pids=() cmds=()
  flush() {
    local i
    batch=$((batch + 1))
    for i in "${!pids[@]}"; do
      if ! wait "${pids[$i]}"; then
        echo "FAILED ($stage): ${cmds[$i]}" >&2
        failures=$((failures + 1))
      fi
    done
    echo "$stage: batch $batch done (${#pids[@]} commands)"
    pids=() cmds=()
  }
  while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    eval "$cmd" >/dev/null &
    pids+=("$!") cmds+=("$cmd")
    n=$((n + 1))
    if [ "${#pids[@]}" -ge "$batch_size" ]; then flush; fi
  done
  if [ "${#pids[@]}" -gt 0 ]; then flush; fi
  echo "$stage: $n commands"
}

echo "Stage 1: snapshot the existing volumes"
hcloud volume list -o json >"$snapshot"

echo "Stage 2: detach the old volumes"
# Only those the review saw attached: the API refuses to detach a detached volume.
run_batches detach < <(jq -r '.delete[] | select(.server // "" | length > 0) | "hcloud volume detach \(.id)"' "$diff")

echo "Stage 3: delete the old volumes"
run_batches delete < <(jq -r '.delete[] | "hcloud volume delete \(.id)"' "$diff")

echo "Stage 4: create the plan's volumes in their servers' zones"
zones=$(hcloud server list -o json | jq -c 'map({(.name): .datacenter.location.name}) | add // {}')
run_batches create < <(jq -r --argjson zones "$zones" '.volumes[] |
  ["hcloud", "volume", "create", "--name", (.volume // "kbv3-\(.hostname)-data"),
   "--size", (.size_gb | tostring), "--location", (.location // $zones[.hostname])]
  + ([(.labels // {}) | to_entries[] | "--label", "\(.key)=\(.value)"])
  | @sh' "$plan")

echo "Stage 5: attach each volume to its server"
run_batches attach < <(jq -r '.volumes[] |
  ["hcloud", "volume", "attach", "--server", .hostname, (.volume // "kbv3-\(.hostname)-data")] | @sh' "$plan")

echo "Stage 6: verify the fleet against the plan"
servers=$(hcloud server list -o json | jq -c 'map({(.id | tostring): .name}) | add // {}')
problems=$(hcloud volume list -o json | jq -r --argjson servers "$servers" --slurpfile plan "$plan" '
  (map({(.name): .}) | add // {}) as $live
  | ($plan[0].volumes[] | (.volume // "kbv3-\(.hostname)-data") as $n | $live[$n] as $v
     | if $v == null then "missing \($n)"
       elif $v.size != .size_gb then "\($n): size \($v.size), plan \(.size_gb)"
       elif $servers[($v.server // 0 | tostring)] != .hostname then "\($n): attached to \($servers[($v.server // 0 | tostring)] // "nothing"), plan \(.hostname)"
       else empty end),
    (.[] | select(.name | startswith("vol-")) | "old volume left: \(.name)")')
if [ -n "$problems" ]; then
  echo "$problems" >&2
  failures=$((failures + 1))
fi
if [ "$failures" -gt 0 ]; then
  echo "volume reset (hcloud CLI): $failures problem(s)" >&2
  exit 1
fi
echo "volume reset (hcloud CLI): done, the fleet matches the plan"
