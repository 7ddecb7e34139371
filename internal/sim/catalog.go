package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// serverType is one entry of GET /server_types. The catalog is fixed: the store never changes
// it, so it is read without the store's lock.
type serverType struct {
	id           int64
	name         string
	description  string
	cores        int
	memory       float32
	disk         int
	cpuType      string // shared, dedicated
	architecture string // x86, arm
	category     string
	monthlyNet   float64 // EUR per month in the EU locations, without VAT
	locations    []string
}

var (
	euLocations  = []string{"fsn1", "nbg1", "hel1"}
	allLocations = []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}
)

// serverTypeCatalog holds the real API's current x86 and Arm families with their real ids,
// sizes and the locations they are sold in: Intel cx and Ampere cax only in the EU, AMD cpx and
// dedicated ccx everywhere. Prices are plausible list prices, not a promise.
var serverTypeCatalog = []serverType{
	{22, "cpx11", "CPX 11", 2, 2, 40, "shared", "x86", "regular_purpose", 4.35, allLocations},
	{23, "cpx21", "CPX 21", 3, 4, 80, "shared", "x86", "regular_purpose", 7.55, allLocations},
	{24, "cpx31", "CPX 31", 4, 8, 160, "shared", "x86", "regular_purpose", 13.60, allLocations},
	{25, "cpx41", "CPX 41", 8, 16, 240, "shared", "x86", "regular_purpose", 25.20, allLocations},
	{26, "cpx51", "CPX 51", 16, 32, 360, "shared", "x86", "regular_purpose", 54.90, allLocations},
	{45, "cax11", "CAX11", 2, 4, 40, "shared", "arm", "cost_optimized", 3.79, euLocations},
	{93, "cax21", "CAX21", 4, 8, 80, "shared", "arm", "cost_optimized", 6.49, euLocations},
	{94, "cax31", "CAX31", 8, 16, 160, "shared", "arm", "cost_optimized", 12.49, euLocations},
	{95, "cax41", "CAX41", 16, 32, 320, "shared", "arm", "cost_optimized", 24.49, euLocations},
	{96, "ccx13", "CCX13 Dedicated CPU", 2, 8, 80, "dedicated", "x86", "general_purpose", 12.49, allLocations},
	{97, "ccx23", "CCX23 Dedicated CPU", 4, 16, 160, "dedicated", "x86", "general_purpose", 24.49, allLocations},
	{98, "ccx33", "CCX33 Dedicated CPU", 8, 32, 240, "dedicated", "x86", "general_purpose", 48.49, allLocations},
	{99, "ccx43", "CCX43 Dedicated CPU", 16, 64, 360, "dedicated", "x86", "general_purpose", 96.49, allLocations},
	{104, "cx22", "CX22", 2, 4, 40, "shared", "x86", "cost_optimized", 3.79, euLocations},
	{105, "cx32", "CX32", 4, 8, 80, "shared", "x86", "cost_optimized", 6.80, euLocations},
	{106, "cx42", "CX42", 8, 16, 160, "shared", "x86", "cost_optimized", 16.40, euLocations},
	{107, "cx52", "CX52", 16, 32, 320, "shared", "x86", "cost_optimized", 32.40, euLocations},
}

func serverTypeByRef(ref schema.IDOrName) *serverType {
	for i := range serverTypeCatalog {
		st := &serverTypeCatalog[i]
		if (ref.ID != 0 && st.id == ref.ID) || (ref.Name != "" && st.name == ref.Name) {
			return st
		}
	}
	return nil
}

func (st *serverType) availableIn(loc string) bool { return slices.Contains(st.locations, loc) }

// Included traffic per month and the price of a further TB, by region, as the API lists them
// per location since 2024-08.
const (
	tb           = 1 << 40
	vatGermany   = 1.19
	hoursInMonth = 730
)

func (st *serverType) price(loc string) schema.PricingServerTypePrice {
	monthly, traffic, perTB := st.monthlyNet, uint64(20*tb), 1.0
	switch loc {
	case "ash", "hil":
		monthly, traffic = monthly*1.15, 1*tb
	case "sin":
		monthly, traffic, perTB = monthly*1.3, tb/2, 7.40
	}
	p := func(net float64) schema.Price {
		return schema.Price{Net: fmt.Sprintf("%.10f", net), Gross: fmt.Sprintf("%.10f", net*vatGermany)}
	}
	return schema.PricingServerTypePrice{
		Location: loc, PriceHourly: p(monthly / hoursInMonth * 1.1), PriceMonthly: p(monthly),
		IncludedTraffic: traffic, PricePerTBTraffic: p(perTB),
	}
}

// toSchema is the server type as the API shows it, locs being the store's locations (for the
// ids of the locations it is sold in).
func (st *serverType) toSchema(locs []*location) schema.ServerType {
	out := schema.ServerType{
		ID: st.id, Name: st.name, Description: st.description, Category: st.category,
		Cores: st.cores, Memory: st.memory, Disk: st.disk, StorageType: "local",
		CPUType: st.cpuType, Architecture: st.architecture,
		Prices: []schema.PricingServerTypePrice{}, Locations: []schema.ServerTypeLocation{},
	}
	for _, l := range locs {
		if st.availableIn(l.Name) {
			out.Prices = append(out.Prices, st.price(l.Name))
			out.Locations = append(out.Locations, schema.ServerTypeLocation{ID: l.ID, Name: l.Name, Available: true, Recommended: l.Name == "fsn1"})
		}
	}
	return out
}

// image is one system image of GET /images, for one architecture.
type image struct {
	id           int64
	name         string
	description  string
	osFlavor     string
	osVersion    string
	architecture string
	created      time.Time
	deprecated   time.Time // zero: not deprecated
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// imageCatalog holds system images for x86 and Arm. ubuntu-20.04 is deprecated (Ubuntu ended
// its standard support in 2025), so include_deprecated makes a difference.
var imageCatalog = []image{
	{67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "x86", day("2022-04-21"), time.Time{}},
	{103908070, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "arm", day("2023-01-10"), time.Time{}},
	{114690387, "debian-12", "Debian 12", "debian", "12", "x86", day("2023-06-13"), time.Time{}},
	{114690389, "debian-12", "Debian 12", "debian", "12", "arm", day("2023-06-13"), time.Time{}},
	{161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "x86", day("2024-04-25"), time.Time{}},
	{161547270, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "arm", day("2024-04-25"), time.Time{}},
	{45557056, "ubuntu-20.04", "Ubuntu 20.04", "ubuntu", "20.04", "x86", day("2020-04-23"), day("2025-06-02")},
	{103907373, "ubuntu-20.04", "Ubuntu 20.04", "ubuntu", "20.04", "arm", day("2023-01-10"), day("2025-06-02")},
	{76766499, "rocky-9", "Rocky Linux 9", "rocky", "9", "x86", day("2022-07-14"), time.Time{}},
	{103906968, "rocky-9", "Rocky Linux 9", "rocky", "9", "arm", day("2023-01-10"), time.Time{}},
	{310557660, "debian-13", "Debian 13", "debian", "13", "x86", day("2025-08-11"), time.Time{}},
	{310557661, "debian-13", "Debian 13", "debian", "13", "arm", day("2025-08-11"), time.Time{}},
}

// imageByRef finds an image by id, or by name for an architecture ("" matches the first, x86).
func imageByRef(ref schema.IDOrName, arch string) *image {
	for i := range imageCatalog {
		im := &imageCatalog[i]
		if ref.ID != 0 && im.id == ref.ID {
			return im
		}
		if ref.Name != "" && im.name == ref.Name && (arch == "" || im.architecture == arch) {
			return im
		}
	}
	return nil
}

func (im *image) toSchema() schema.Image {
	name, version, created := im.name, im.osVersion, im.created
	out := schema.Image{
		ID: im.id, Status: "available", Type: "system", Name: &name, Description: im.description,
		DiskSize: 5, Created: &created, OSFlavor: im.osFlavor, OSVersion: &version,
		Architecture: im.architecture, RapidDeploy: true, Labels: map[string]string{},
	}
	if !im.deprecated.IsZero() {
		d := im.deprecated
		//lint:ignore SA1019 the spec still requires "deprecated", and hetzner.hcloud's server module reads it.
		out.Deprecated = &d
		out.Deprecation = &schema.DeprecationInfo{Announced: d, UnavailableAfter: d.AddDate(0, 3, 0)}
	}
	return out
}

// imageFilter selects images for GET /images; zero fields select all but deprecated ones.
type imageFilter struct {
	Name              string
	Architectures     []string
	Types             []string
	Statuses          []string
	BoundTo           []string
	Selector          selector
	IncludeDeprecated bool
}

// listImages returns one page of the system images that pass f.
func (s *Store) listImages(f imageFilter, sort []sortKey, p pageReq) ([]schema.Image, pagination) {
	var items []*image
	for i := range imageCatalog {
		im := &imageCatalog[i]
		switch {
		case f.Name != "" && im.name != f.Name,
			len(f.Architectures) > 0 && !slices.Contains(f.Architectures, im.architecture),
			len(f.Types) > 0 && !slices.Contains(f.Types, "system"),
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, "available"),
			len(f.BoundTo) > 0, // only backups are bound to a server, and there are none
			!f.Selector.matches(nil),
			!f.IncludeDeprecated && !im.deprecated.IsZero():
			continue
		}
		items = append(items, im)
	}
	sortItems(items, sort, func(a, b *image, field string) int {
		switch field {
		case "name":
			return cmp.Compare(a.name, b.name)
		case "created":
			return a.created.Compare(b.created)
		}
		return cmp.Compare(a.id, b.id)
	}, func(im *image) int64 { return im.id })
	page, meta := paginate(items, p)
	out := make([]schema.Image, len(page))
	for i, im := range page {
		out[i] = im.toSchema()
	}
	return out, meta
}

// getImage returns not_found for an unknown id; a deprecated image is found all the same.
func (s *Store) getImage(id int64) (schema.Image, error) {
	if im := imageByRef(schema.IDOrName{ID: id}, ""); im != nil {
		return im.toSchema(), nil
	}
	return schema.Image{}, errNotFound("image", id)
}

// listServerTypes returns one page of the server types named name (empty: all).
func (s *Store) listServerTypes(name string, sort []sortKey, p pageReq) ([]schema.ServerType, pagination) {
	var items []*serverType
	for i := range serverTypeCatalog {
		if name == "" || serverTypeCatalog[i].name == name {
			items = append(items, &serverTypeCatalog[i])
		}
	}
	sortItems(items, sort, func(a, b *serverType, field string) int {
		if field == "name" {
			return cmp.Compare(a.name, b.name)
		}
		return cmp.Compare(a.id, b.id)
	}, func(st *serverType) int64 { return st.id })
	page, meta := paginate(items, p)
	out := make([]schema.ServerType, len(page))
	for i, st := range page {
		out[i] = st.toSchema(s.locations)
	}
	return out, meta
}

// getServerType returns not_found for an unknown id.
func (s *Store) getServerType(id int64) (schema.ServerType, error) {
	if st := serverTypeByRef(schema.IDOrName{ID: id}); st != nil {
		return st.toSchema(s.locations), nil
	}
	return schema.ServerType{}, errNotFound("server_type", id)
}
