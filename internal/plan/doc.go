// Package plan holds what kbv3 is asked to do, in the two files people review before any API
// call: the plan (servers/volume_plan_v3.json, the volumes the fleet should have) and the diff
// (servers/volume_diff_v3.json, the change computed from the plan and the live volumes: what to
// delete, create, keep, and what disagrees with the plan).
//
// Both files are parsed strictly: an unknown or duplicated field is an error, because a typo such
// as "sise_gb" silently dropped would create a volume of the wrong size. Validation reports every
// problem at once, each naming its entry ("volumes[3] (k8s-worker-01): ..."), so one review round
// fixes them all.
//
// Nothing here talks to the API. The Hetzner layer fills Live values; Compute is a pure function
// of the plan, the live volumes and the servers' locations, so the diff can be reviewed, stored
// and replayed.
//
// The formats and every rule are documented in docs/PLAN.md.
package plan
