// Package sim is hcloud-sim: a stateful, in-memory stand-in for the parts of the Hetzner Cloud
// API that volume management touches (servers, locations, datacenters, volumes and their
// actions) and that a test playbook uses around it (server types, images, creating, powering
// and deleting servers), close enough that hcloud-go, the hcloud CLI and python3-hcloud cannot tell it from
// the real service: the same JSON shapes, error codes, pagination, rate limit and the time that
// actions take.
//
// The HTTP layer (api*.go, admin.go, middleware.go) only decodes, calls the [Store] and encodes;
// every rule of the API lives in the store, which holds one lock. Actions are not driven by
// timers: each has a start and an end on the injectable [Clock], and the store settles every
// action whose end has passed before it answers anything, so reads are always consistent and
// tests can use a manual clock.
//
// Faults, the rate limit and the request statistics sit in front of the router; the admin API
// under /_sim/ bypasses them. See docs/SIMULATOR.md for the user-facing reference.
package sim
