package sim

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxPerPage is the API's cap: a larger per_page is served as 50, not refused.
const (
	defaultPerPage = 25
	maxPerPage     = 50
)

type pageReq struct {
	Page, PerPage int
}

// pagination is meta.pagination with exactly the API's six keys: python3-hcloud builds an
// object from it and breaks on any other key, and hcloud-go stops paging only on a null
// next_page, so hcloud-go's own schema.MetaPagination (plain ints) cannot be used here.
type pagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     *int `json:"last_page"`
	TotalEntries *int `json:"total_entries"`
}

type listMeta struct {
	Pagination pagination `json:"pagination"`
}

func intPtr(i int) *int { return &i }

// paginate cuts one page out of items. A page past the end is empty, not an error.
func paginate[T any](items []T, p pageReq) ([]T, pagination) {
	total := len(items)
	last := max(1, (total+p.PerPage-1)/p.PerPage)
	meta := pagination{Page: p.Page, PerPage: p.PerPage, LastPage: intPtr(last), TotalEntries: intPtr(total)}
	if p.Page > 1 {
		meta.PreviousPage = intPtr(p.Page - 1)
	}
	if p.Page < last {
		meta.NextPage = intPtr(p.Page + 1)
	}
	lo := min(total, (p.Page-1)*p.PerPage)
	hi := min(total, lo+p.PerPage)
	return items[lo:hi], meta
}

// parsePage reads page and per_page; values that are not positive integers are invalid_input,
// as in the API.
func parsePage(q url.Values) (pageReq, error) {
	p := pageReq{Page: 1, PerPage: defaultPerPage}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"page", &p.Page}, {"per_page", &p.PerPage}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, errInvalidInput(f.name, "must be a positive integer")
		}
		*f.dst = n
	}
	p.PerPage = min(p.PerPage, maxPerPage)
	return p, nil
}

// setLinkHeader writes the RFC 8288 Link header the API sends with every list.
func setLinkHeader(w http.ResponseWriter, r *http.Request, m pagination) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	link := func(page int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(m.PerPage))
		u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var parts []string
	if m.PreviousPage != nil {
		parts = append(parts, link(*m.PreviousPage, "prev"))
	}
	if m.NextPage != nil {
		parts = append(parts, link(*m.NextPage, "next"))
	}
	parts = append(parts, link(*m.LastPage, "last"))
	w.Header().Set("Link", strings.Join(parts, ", "))
}

type sortKey struct {
	Field string
	Desc  bool
}

// parseSort reads the repeatable sort parameter ("name", "name:asc", "id:desc").
func parseSort(values []string, allowed ...string) ([]sortKey, error) {
	var keys []sortKey
	for _, raw := range values {
		for v := range strings.SplitSeq(raw, ",") {
			field, dir, _ := strings.Cut(v, ":")
			if !slices.Contains(allowed, field) || (dir != "" && dir != "asc" && dir != "desc") {
				return nil, errInvalidInput("sort", "invalid sort value '"+v+"'")
			}
			keys = append(keys, sortKey{Field: field, Desc: dir == "desc"})
		}
	}
	return keys, nil
}

// sortItems orders items by keys, then by id, so that every list has a stable order.
func sortItems[T any](items []T, keys []sortKey, compare func(a, b T, field string) int, id func(T) int64) {
	slices.SortStableFunc(items, func(a, b T) int {
		for _, k := range keys {
			c := compare(a, b, k.Field)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(id(a), id(b))
	})
}
