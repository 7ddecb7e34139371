package sim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keybuzz/kbv3/internal/sim"
)

// BenchmarkHandler measures the handler alone on a 500-server fleet: a by-name lookup and a
// full page, the two reads every client makes most.
func BenchmarkHandler(b *testing.B) {
	s, err := sim.New(sim.Config{Scenario: "generated:500", RateLimit: sim.RateLimit{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, path := range []string{"/v1/volumes?name=vol-redis-07", "/v1/volumes?page=5&per_page=50", "/v1/servers?page=5&per_page=50"} {
		b.Run(path, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", path, nil)
					req.Header.Set("Authorization", "Bearer t")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatal(w.Code)
					}
				}
			})
		})
	}
}
