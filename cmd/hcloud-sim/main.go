// Command hcloud-sim serves a simulated Hetzner Cloud API (internal/sim) on a local address.
// It prints its endpoint as the first line on stdout once it accepts connections and stops
// cleanly on SIGINT or SIGTERM. See docs/SIMULATOR.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitUsage is the exit code for bad flags and unreadable files, as the start-up contract says.
const exitUsage = 2

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, errFlags) {
			fmt.Fprintf(stderr, "hcloud-sim: %v\n", err)
		}
		return exitUsage
	}
	cfg, err := opts.config(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "hcloud-sim: %v\n", err)
		return exitUsage
	}
	s, err := sim.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "hcloud-sim: %v\n", err)
		return exitUsage
	}
	return serve(ctx, s, opts.addr, stdout, stderr)
}

// options are the command line's flags, as given.
type options struct {
	addr         string
	scenario     string
	scenarioFile string
	seed         int64
	token        string
	rateLimit    string
	faultsFile   string
	logLevel     string
	actionTimes  listFlag
	faults       listFlag
}

// errFlags is a flag error the flag package has already reported (with the usage).
var errFlags = errors.New("bad flags")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("hcloud-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	fs.StringVar(&o.scenario, "scenario", "empty", "built-in fleet: ph3-02, empty or generated:N")
	fs.StringVar(&o.scenarioFile, "scenario-file", "", "fleet from a JSON file (docs/SIMULATOR.md); wins over --scenario")
	fs.Int64Var(&o.seed, "seed", 1, "seed for ids, addresses, locations and fault fractions")
	fs.StringVar(&o.token, "token", "", "the only bearer token accepted (default: any)")
	fs.StringVar(&o.rateLimit, "rate-limit", "3600/1h", "token bucket N/PERIOD, or off")
	fs.StringVar(&o.faultsFile, "faults-file", "", "file of fault rules, one per line, # comments")
	fs.StringVar(&o.logLevel, "log-level", "error", "request log level: off, error, info (every request) or debug")
	fs.Var(&o.actionTimes, "action-time", "duration of every action (50ms), or COMMAND=DURATION for one command; repeatable")
	fs.Var(&o.faults, "fault", `fault rule "METHOD PATH key=value ..." (docs/SIMULATOR.md); repeatable`)
	if err := fs.Parse(args); err != nil {
		return nil, errFlags
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// config turns the flags into the simulator's configuration, reading the files they name; the
// request log goes to stderr.
func (o *options) config(stderr io.Writer) (sim.Config, error) {
	cfg := sim.Config{Scenario: o.scenario, Seed: o.seed, Token: o.token, ActionTimes: map[string]time.Duration{}}
	for _, at := range o.actionTimes {
		cmd, d, ok := strings.Cut(at, "=")
		if !ok {
			cmd, d = "", at
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return cfg, fmt.Errorf("--action-time %q: bad duration", at)
		}
		if cmd == "" {
			cfg.ActionTime = dur
		} else {
			cfg.ActionTimes[cmd] = dur
		}
	}
	var err error
	if cfg.RateLimit, err = sim.ParseRateLimit(o.rateLimit); err != nil {
		return cfg, fmt.Errorf("--rate-limit: %w", err)
	}
	if cfg.Faults, err = o.faultRules(); err != nil {
		return cfg, err
	}
	if o.scenarioFile != "" {
		if cfg.ScenarioData, err = sim.ReadScenarioFile(o.scenarioFile); err != nil {
			return cfg, fmt.Errorf("--scenario-file: %w", err)
		}
	}
	if cfg.Logger, err = newLogger(o.logLevel, stderr); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	return cfg, nil
}

// faultRules are the --fault rules, then those of --faults-file.
func (o *options) faultRules() ([]sim.FaultRule, error) {
	var rules []sim.FaultRule
	for _, f := range o.faults {
		rule, err := sim.ParseFaultRule(f)
		if err != nil {
			return nil, fmt.Errorf("--fault: %w", err)
		}
		rules = append(rules, rule)
	}
	if o.faultsFile != "" {
		fromFile, err := sim.ReadFaultsFile(o.faultsFile)
		if err != nil {
			return nil, fmt.Errorf("--faults-file: %w", err)
		}
		rules = append(rules, fromFile...)
	}
	return rules, nil
}

// serve listens on addr, prints the endpoint, and serves s until ctx ends (0) or serving fails
// (1).
func serve(ctx context.Context, s *sim.Sim, addr string, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "hcloud-sim: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The listener accepts (the kernel queues) connections from net.Listen on, so the endpoint
	// can be printed now.
	fmt.Fprintln(stdout, endpoint(ln.Addr()))

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "hcloud-sim: %v\n", err)
		return 1
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "hcloud-sim: shutdown: %v\n", err)
	}
	return 0
}

// endpoint is the URL clients use; an unspecified host (":8080") is reached on loopback.
func endpoint(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/v1"
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s/v1", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "off":
		return slog.New(slog.NewTextHandler(io.Discard, nil)), nil
	case "error":
		l = slog.LevelError
	case "info":
		l = slog.LevelInfo
	case "debug":
		l = slog.LevelDebug
	default:
		return nil, fmt.Errorf("unknown level %q (want off, error, info or debug)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
