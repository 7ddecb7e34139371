// Package volumes is what each kbv3 module does: it composes the protocol (internal/ansible),
// the Hetzner layer (internal/hz), the plan (internal/plan) and the runner (internal/batch)
// into the six operations detach, delete, create, attach, verify and info.
//
// Every operation follows one shape: validate everything the call was given, read one snapshot
// of the volumes and servers it touches, decide each item against that snapshot, run the items
// with bounded concurrency under one deadline, and return one Item per volume.
package volumes
