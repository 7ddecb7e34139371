package sim

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type location struct {
	schema.Location
}

type datacenter struct {
	id          int64
	name        string
	description string
	loc         *location
}

// datacenterJSON is the API's datacenter. hcloud-go's schema.Datacenter is deprecated (and so
// flagged by linters), while the CLI and python3-hcloud still read a server's
// datacenter.location, so the simulator keeps its own.
type datacenterJSON struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Location    schema.Location `json:"location"`
	ServerTypes dcServerTypes   `json:"server_types"`
}

type dcServerTypes struct {
	Supported             []int64 `json:"supported"`
	AvailableForMigration []int64 `json:"available_for_migration"`
	Available             []int64 `json:"available"`
}

// The real locations and datacenters, with their real ids, so that ids seen in the simulator
// look like the ones users know. The names repeat plan.KnownLocations on purpose (the simulator
// imports nothing of kbv3); TestVolumeRulesAgreeWithPlan compares them.
func newGeography() ([]*location, []*datacenter) {
	locs := []*location{
		{schema.Location{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071, NetworkZone: "eu-central"}},
		{schema.Location{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", Latitude: 49.452102, Longitude: 11.076665, NetworkZone: "eu-central"}},
		{schema.Location{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", Latitude: 60.169855, Longitude: 24.938379, NetworkZone: "eu-central"}},
		{schema.Location{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", Latitude: 39.045821, Longitude: -77.487073, NetworkZone: "us-east"}},
		{schema.Location{ID: 5, Name: "hil", Description: "Hillsboro, OR", Country: "US", City: "Hillsboro, OR", Latitude: 45.54222, Longitude: -122.951924, NetworkZone: "us-west"}},
		{schema.Location{ID: 6, Name: "sin", Description: "Singapore", Country: "SG", City: "Singapore", Latitude: 1.283333, Longitude: 103.833333, NetworkZone: "ap-southeast"}},
	}
	dcs := []*datacenter{
		{id: 4, name: "fsn1-dc14", description: "Falkenstein 1 virtual DC 14", loc: locs[0]},
		{id: 2, name: "nbg1-dc3", description: "Nuremberg 1 virtual DC 3", loc: locs[1]},
		{id: 3, name: "hel1-dc2", description: "Helsinki 1 virtual DC 2", loc: locs[2]},
		{id: 5, name: "ash-dc1", description: "Ashburn virtual DC 1", loc: locs[3]},
		{id: 6, name: "hil-dc1", description: "Hillsboro virtual DC 1", loc: locs[4]},
		{id: 7, name: "sin-dc1", description: "Singapore virtual DC 1", loc: locs[5]},
	}
	return locs, dcs
}

func (d *datacenter) toSchema() datacenterJSON {
	ids := []int64{}
	for _, st := range serverTypeCatalog {
		if st.availableIn(d.loc.Name) {
			ids = append(ids, st.id)
		}
	}
	return datacenterJSON{
		ID: d.id, Name: d.name, Description: d.description, Location: d.loc.Location,
		ServerTypes: dcServerTypes{Supported: ids, AvailableForMigration: slices.Clone(ids), Available: slices.Clone(ids)},
	}
}

// datacenterByRef finds a datacenter by id or name, as POST /servers accepts either.
func (s *Store) datacenterByRef(ref schema.IDOrName) *datacenter {
	for _, d := range s.datacenters {
		if (ref.ID != 0 && d.id == ref.ID) || (ref.Name != "" && d.name == ref.Name) {
			return d
		}
	}
	return nil
}

// locationByRef finds a location by id or name, as POST /volumes accepts either.
func (s *Store) locationByRef(ref schema.IDOrName) *location {
	for _, l := range s.locations {
		if (ref.ID != 0 && l.ID == ref.ID) || (ref.Name != "" && l.Name == ref.Name) {
			return l
		}
	}
	return nil
}

// datacenterIn is the datacenter servers of a location live in (one per location here).
func (s *Store) datacenterIn(l *location) *datacenter {
	for _, d := range s.datacenters {
		if d.loc == l {
			return d
		}
	}
	return nil
}

// listLocations returns the page of locations that match name (empty: all), in the order of
// sort. It never fails on an empty result.
func (s *Store) listLocations(name string, sort []sortKey, p pageReq) ([]schema.Location, pagination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*location
	for _, l := range s.locations {
		if name == "" || l.Name == name {
			items = append(items, l)
		}
	}
	sortItems(items, sort, func(a, b *location, field string) int {
		switch field {
		case "name":
			return cmp.Compare(a.Name, b.Name)
		}
		return cmp.Compare(a.ID, b.ID)
	}, func(l *location) int64 { return l.ID })
	page, meta := paginate(items, p)
	out := make([]schema.Location, len(page))
	for i, l := range page {
		out[i] = l.Location
	}
	return out, meta
}

// getLocation returns not_found for an unknown id.
func (s *Store) getLocation(id int64) (schema.Location, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.locations {
		if l.ID == id {
			return l.Location, nil
		}
	}
	return schema.Location{}, errNotFound("location", id)
}

// listDatacenters is ListLocations for datacenters.
func (s *Store) listDatacenters(name string, sort []sortKey, p pageReq) ([]datacenterJSON, pagination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*datacenter
	for _, d := range s.datacenters {
		if name == "" || d.name == name {
			items = append(items, d)
		}
	}
	sortItems(items, sort, func(a, b *datacenter, field string) int {
		switch field {
		case "name":
			return cmp.Compare(a.name, b.name)
		}
		return cmp.Compare(a.id, b.id)
	}, func(d *datacenter) int64 { return d.id })
	page, meta := paginate(items, p)
	out := make([]datacenterJSON, len(page))
	for i, d := range page {
		out[i] = d.toSchema()
	}
	return out, meta
}

// getDatacenter returns not_found for an unknown id.
func (s *Store) getDatacenter(id int64) (datacenterJSON, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.datacenters {
		if d.id == id {
			return d.toSchema(), nil
		}
	}
	return datacenterJSON{}, errNotFound("datacenter", strconv.FormatInt(id, 10))
}
