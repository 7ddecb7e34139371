package sim

import (
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// recorder remembers the status a handler wrote, for the log and the counters.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, to drop it.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusDropped stands for "no answer" in the counters and the log.
const statusDropped = "dropped"

// serveHTTP is the chain: request log → stats → admin bypass → auth → rate limit → faults →
// router. The admin API is logged but neither counted, authenticated, limited nor faulted.
func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	status := ""
	admin := r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/")
	defer func() {
		if status == "" {
			status = strconv.Itoa(rec.status)
		}
		level := slog.LevelInfo
		if admin {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", time.Since(start))
	}()
	if admin {
		s.admin.ServeHTTP(rec, r)
		return
	}
	dropped := s.serveAPI(rec, r)
	if dropped {
		status = statusDropped
	} else if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if status == "" {
		status = strconv.Itoa(rec.status)
	}
	// Counted before the connection closes, so that a client that sees it close finds the
	// request in the counters.
	s.stats.record(r.Method, s.route(r), status)
	if dropped {
		drop(rec)
	}
}

// serveAPI runs auth, the rate limit and the faults before the router. It reports whether a
// fault drops the answer: then nothing has been written, and the caller closes the connection.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) (dropped bool) {
	if !s.authorized(r) {
		s.limiter.peek().setHeaders(w)
		writeError(w, errUnauthorized)
		return false
	}
	rl, ok := s.limiter.take()
	rl.setHeaders(w)
	if !ok {
		writeError(w, errRateLimited)
		return false
	}
	dropAfter := false
	for _, f := range s.faults.match(r.Method, r.URL.Path) {
		switch f.Effect {
		case EffectDelay:
			s.sleep(r, time.Duration(f.Delay))
		case EffectActionError:
			r = r.WithContext(withFate(r.Context(), fateError))
		case EffectActionStuck:
			r = r.WithContext(withFate(r.Context(), fateStuck))
		case EffectDropAfter:
			dropAfter = true
		case EffectDrop:
			return true
		case EffectError:
			if dropAfter {
				return true // the error is the answer that is lost: nothing was applied
			}
			if f.Status == http.StatusTooManyRequests {
				// A real 429 always says the bucket is empty (RateLimit-Remaining: 0).
				s.limiter.exhausted().setHeaders(w)
			}
			writeError(w, &Error{Status: f.Status, Code: f.Code, Message: f.Message})
			return false
		}
	}
	if dropAfter {
		// The store applies the request; its answer goes nowhere and the client sees the
		// connection close, as when a network fails after the API acted.
		s.api.ServeHTTP(newDiscard(), r)
		return true
	}
	s.api.ServeHTTP(w, r)
	return false
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No connection to drop (HTTP/2, or a handler called directly): abort the response,
		// which the server turns into a reset stream or closed connection.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discard is a ResponseWriter that forgets the answer of a request a fault drops after it
// was applied.
type discard struct{ h http.Header }

func newDiscard() *discard                     { return &discard{h: http.Header{}} }
func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// authorized wants a bearer token, and the configured one when there is one.
func (s *Sim) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return false
	}
	return s.cfg.Token == "" || token == s.cfg.Token
}

// route names the request by the router's pattern ("GET /v1/volumes/{id}"), the key of the
// by_route counters.
func (s *Sim) route(r *http.Request) string {
	_, pattern := s.api.Handler(r)
	switch pattern {
	case "":
		return r.Method + " (unmatched)"
	case "/":
		return r.Method + " (unknown route)"
	case patternVolumeSub, patternServerSub:
		kind := strings.Split(r.URL.Path, "/")[2] // volumes, servers
		if strings.HasPrefix(r.URL.Path, "/v1/"+kind+"/actions/") {
			return "GET /v1/" + kind + "/actions/{id}"
		}
		return "GET /v1/" + kind + "/{id}/actions"
	}
	return pattern
}

// Stats is what GET /_sim/stats answers (the shape is a contract: docs/ARCHITECTURE.md).
type Stats struct {
	Requests  RequestStats   `json:"requests"`
	RateLimit RateLimitState `json:"rate_limit"`
	FaultsHit int            `json:"faults_hit"`
}

// RequestStats counts /v1 requests; a request is mutating when its method is not GET or HEAD.
type RequestStats struct {
	Total    int            `json:"total"`
	Mutating int            `json:"mutating"`
	Read     int            `json:"read"`
	ByRoute  map[string]int `json:"by_route"`
	ByStatus map[string]int `json:"by_status"`
}

type stats struct {
	mu sync.Mutex
	RequestStats
}

func newStats() *stats {
	s := &stats{}
	s.reset()
	return s
}

func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.RequestStats = RequestStats{ByRoute: map[string]int{}, ByStatus: map[string]int{}}
}

func (s *stats) record(method, route, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Total++
	if method == http.MethodGet || method == http.MethodHead {
		s.Read++
	} else {
		s.Mutating++
	}
	s.ByRoute[route]++
	s.ByStatus[status]++
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.RequestStats
	rs.ByRoute = maps.Clone(rs.ByRoute)
	rs.ByStatus = maps.Clone(rs.ByStatus)
	return Stats{Requests: rs}
}
