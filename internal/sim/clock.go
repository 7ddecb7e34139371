package sim

import (
	"math/rand/v2"
	"time"
)

// Clock is the simulator's only source of time for actions, timestamps and the rate limit, so
// that tests can drive it by hand (simtest.ManualClock).
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// IDSource hands out resource ids. The store calls it only under its lock, so an
// implementation need not be safe for concurrent use. Ids of one kind must increase, because
// sorting by id stands for sorting by age, as in the real API.
type IDSource interface {
	NextID(kind string) int64
}

// Kinds of ids the store asks for.
const (
	kindServer = "server"
	kindVolume = "volume"
	kindAction = "action"
	kindIP     = "primary_ip"
)

// seqIDs counts up from a per-kind base that the seed shifts, so two simulators with the same
// seed hand out the same ids and ids of different kinds never look alike.
type seqIDs struct {
	next map[string]int64
}

// NewSeqIDs returns the default IDSource: deterministic for a seed, and below 2^53 so that
// every JSON client keeps ids exact.
func NewSeqIDs(seed int64) IDSource {
	bases := map[string]int64{kindServer: 40_000_000, kindVolume: 100_000_000, kindAction: 500_000_000, kindIP: 60_000_000}
	r := rand.New(rand.NewPCG(uint64(seed), 0x6863_6c6f_7564))
	next := make(map[string]int64, len(bases))
	for _, k := range []string{kindServer, kindVolume, kindAction, kindIP} {
		next[k] = bases[k] + r.Int64N(1_000_000)
	}
	return &seqIDs{next: next}
}

func (s *seqIDs) NextID(kind string) int64 {
	id, ok := s.next[kind]
	if !ok {
		id = 1_000_000
	}
	s.next[kind] = id + 1
	return id
}
