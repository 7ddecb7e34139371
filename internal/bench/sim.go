package bench

import (
	"context"
	"os"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// harnessSim is a simulator the harness runs, with its stderr in a log file of the work
// directory: runs take long enough that a log on disk is what one reads when one goes wrong.
type harnessSim struct {
	*simproc.Sim
	log *os.File
}

// startSim starts bin on scenario with the harness's token and more flags args, its stderr
// in logPath.
func startSim(ctx context.Context, bin, logPath, scenario string, args ...string) (*harnessSim, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The simulator dies with the harness even when the harness is killed with SIGKILL; its
	// actions take their realistic times.
	s, err := e2e.StartSimulator(ctx, e2e.SimOptions{Binary: bin, Fleet: e2e.Fleet{Name: scenario}, Token: Token,
		Args: args, Log: log, DieWithParent: true})
	if err != nil {
		_ = log.Close()
		return nil, err
	}
	return &harnessSim{Sim: s, log: log}, nil
}

// stop stops the simulator and closes its log. It is safe to call twice.
func (s *harnessSim) stop() error {
	err := s.Stop()
	_ = s.log.Close() // a second Close only says it is closed
	return err
}

// state reads the whole project.
func (s *harnessSim) state() (*State, error) {
	st, err := s.State()
	return (*State)(&st), err
}

// stats reads the request counters.
func (s *harnessSim) stats() (Stats, error) {
	st, err := s.Stats()
	return Stats(st), err
}

// Stats is GET /_sim/stats, which the report reads by kind of request (ByKind, TooMany).
type Stats simproc.Stats
