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
	fs := flag.NewFlagSet("hcloud-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr         = fs.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
		scenario     = fs.String("scenario", "empty", "built-in fleet: ph3-02, empty or generated:N")
		scenarioFile = fs.String("scenario-file", "", "fleet from a JSON file (docs/SIMULATOR.md); wins over --scenario")
		seed         = fs.Int64("seed", 1, "seed for ids, addresses, locations and fault fractions")
		token        = fs.String("token", "", "the only bearer token accepted (default: any)")
		rateLimit    = fs.String("rate-limit", "3600/1h", "token bucket N/PERIOD, or off")
		faultsFile   = fs.String("faults-file", "", "file of fault rules, one per line, # comments")
		logLevel     = fs.String("log-level", "error", "request log level: off, error, info (every request) or debug")
		actionTimes  listFlag
		faults       listFlag
	)
	fs.Var(&actionTimes, "action-time", "duration of every action (50ms), or COMMAND=DURATION for one command; repeatable")
	fs.Var(&faults, "fault", `fault rule "METHOD PATH key=value ..." (docs/SIMULATOR.md); repeatable`)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hcloud-sim: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments: %v", fs.Args())
	}

	cfg := sim.Config{Scenario: *scenario, Seed: *seed, Token: *token, ActionTimes: map[string]time.Duration{}}
	for _, at := range actionTimes {
		cmd, d, ok := strings.Cut(at, "=")
		if !ok {
			cmd, d = "", at
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return usage("--action-time %q: bad duration", at)
		}
		if cmd == "" {
			cfg.ActionTime = dur
		} else {
			cfg.ActionTimes[cmd] = dur
		}
	}
	rl, err := sim.ParseRateLimit(*rateLimit)
	if err != nil {
		return usage("--rate-limit: %v", err)
	}
	cfg.RateLimit = rl
	for _, f := range faults {
		rule, err := sim.ParseFaultRule(f)
		if err != nil {
			return usage("--fault: %v", err)
		}
		cfg.Faults = append(cfg.Faults, rule)
	}
	if *faultsFile != "" {
		rules, err := sim.ReadFaultsFile(*faultsFile)
		if err != nil {
			return usage("--faults-file: %v", err)
		}
		cfg.Faults = append(cfg.Faults, rules...)
	}
	if *scenarioFile != "" {
		sc, err := sim.ReadScenarioFile(*scenarioFile)
		if err != nil {
			return usage("--scenario-file: %v", err)
		}
		cfg.ScenarioData = sc
	}
	logger, err := newLogger(*logLevel, stderr)
	if err != nil {
		return usage("--log-level: %v", err)
	}
	cfg.Logger = logger

	s, err := sim.New(cfg)
	if err != nil {
		return usage("%v", err)
	}
	ln, err := net.Listen("tcp", *addr)
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
