// Package clients holds the proof that the real clients cannot tell hcloud-sim from the API:
// its tests start the built simulator as a user would and drive it with the Debian `hcloud`
// CLI and python3-hcloud. It has no code outside its tests.
package clients
