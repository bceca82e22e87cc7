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
	"net/http/pprof"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/sluicedata/sluice/internal/auth"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/server"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

// serveConfig is every setting of `sluice serve`. Each field maps to a flag
// --name and an environment variable SLUICE_NAME (upper case, dashes as
// underscores); a flag on the command line wins over the environment.
type serveConfig struct {
	Listen      string        // address of the HTTP port
	TLSListen   string        // address of the TLS port; "" means none
	TLSCert     string        // PEM certificate for the TLS port; "" means self-signed
	TLSKey      string        // PEM key for --tls-cert
	TLSOnly     bool          // no plain port: only TLSListen
	DataDir     string        // where streams are stored
	Region      string        // the region in ARNs
	AccountID   string        // the account id in ARNs and messages
	StateDelay  time.Duration // how long CREATING/UPDATING/DELETING last; 0 means instant
	ShardLimits string        // "aws" enforces per-shard throughput limits, "off" disables them
	// Fsync is "on" (a write is acknowledged once fdatasync'd) or "off"
	// (acknowledged once written to the file: a machine crash can lose it).
	Fsync       string
	ShardQuota  int           // the account's shard limit (AWS's default: 500)
	IteratorTTL time.Duration // shard iterator lifetime; AWS's is 5m
	// SubscriptionLifetime is how long a SubscribeToShard stream lasts; AWS's is 5m.
	SubscriptionLifetime time.Duration
	LogLevel             string // debug, info, warn, error
	// Auth is "none" (any request is accepted) or "sigv4" (signatures are
	// checked against CredentialsFile).
	Auth            string
	CredentialsFile string
	// InsecureAllowAnonymous lets --auth none listen on a non-loopback
	// address.
	InsecureAllowAnonymous bool
	// MasterKeyFile holds the master key of encryption at rest; without
	// it, the key itself may be given in SLUICE_MASTER_KEY.
	MasterKeyFile string
	// MaxConnections bounds the open client connections of both ports.
	MaxConnections int
	// DebugListen serves Go's profiler (/debug/pprof/) on its own address;
	// "" means off. It must be a loopback address: profiles show internals.
	DebugListen string
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
)

// Validate checks the settings; zero values have already been replaced by
// the flag defaults.
func (c *serveConfig) Validate() error {
	switch {
	case c.ShardLimits != "aws" && c.ShardLimits != "off":
		return fmt.Errorf("--shard-limits must be aws or off, not %q", c.ShardLimits)
	case c.Fsync != "filesystem" && c.Fsync != "file" && c.Fsync != "on" && c.Fsync != "off":
		return fmt.Errorf("--fsync must be filesystem, file or off, not %q", c.Fsync)
	case !regionPattern.MatchString(c.Region):
		return fmt.Errorf("--region %q is not a region name like us-east-1", c.Region)
	case !accountPattern.MatchString(c.AccountID):
		return fmt.Errorf("--account-id must be 12 digits, not %q", c.AccountID)
	case c.DebugListen != "" && !loopback(c.DebugListen):
		return fmt.Errorf("--debug-listen must be a loopback address, not %q", c.DebugListen)
	case c.MaxConnections < 1:
		return fmt.Errorf("--max-connections must be at least 1, not %d", c.MaxConnections)
	case c.ShardQuota < 1 || c.ShardQuota > 1_000_000:
		return fmt.Errorf("--shard-quota must be between 1 and 1000000, not %d", c.ShardQuota)
	case c.StateDelay < 0:
		return errors.New("--state-delay must not be negative")
	case c.IteratorTTL <= 0:
		return errors.New("--iterator-ttl must be positive")
	case c.SubscriptionLifetime <= 0:
		return errors.New("--subscription-lifetime must be positive")
	case c.DataDir == "":
		return errors.New("--data-dir must not be empty")
	case c.Auth != "none" && c.Auth != "sigv4":
		return fmt.Errorf("--auth must be none or sigv4, not %q", c.Auth)
	case c.Auth == "sigv4" && c.CredentialsFile == "":
		return errors.New("--auth sigv4 needs --credentials-file")
	case c.TLSOnly && c.TLSListen == "":
		return errors.New("--tls-only needs --tls-listen")
	}
	if c.TLSOnly {
		c.Listen = ""
	}
	if c.Auth == "none" && !c.InsecureAllowAnonymous {
		for _, addr := range []string{c.Listen, c.TLSListen} {
			if addr != "" && !loopback(addr) {
				return fmt.Errorf("refusing to serve %s without authentication: use --auth sigv4, or --insecure-allow-anonymous to accept anyone", addr)
			}
		}
	}
	return nil
}

// loopback reports whether addr (host:port) binds only loopback addresses.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:4567", "address of the HTTP port (HTTP/1.1 and h2c)")
	fs.StringVar(&c.TLSListen, "tls-listen", "", "address of the TLS port (HTTP/2 and HTTP/1.1); empty: no TLS port")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate for the TLS port (default: a self-signed one for localhost kept in the data dir)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&c.TLSOnly, "tls-only", false, "serve only the TLS port (--tls-listen); no plain HTTP port")
	fs.StringVar(&c.DataDir, "data-dir", "./sluice-data", "directory for stream data and the catalog")
	fs.StringVar(&c.Region, "region", "us-east-1", "region used in ARNs")
	fs.StringVar(&c.AccountID, "account-id", "000000000000", "12-digit account id used in ARNs and messages")
	fs.DurationVar(&c.StateDelay, "state-delay", 0, "how long streams stay CREATING, UPDATING and DELETING")
	fs.StringVar(&c.ShardLimits, "shard-limits", "aws", "per-shard throughput limits: aws or off")
	fs.StringVar(&c.Fsync, "fsync", "filesystem", "how a write is made durable before it is acknowledged: filesystem (or on): one syncfs of the data directory's filesystem per group commit, shared by every shard (also writes back anything else dirty on that filesystem); file: one fdatasync of each shard written to; off: acknowledged once in the page cache, so a machine crash can lose acknowledged records (measurements and throwaway environments only)")
	fs.IntVar(&c.ShardQuota, "shard-quota", 500, "the account's shard limit across all streams (AWS's default quota is 500; raise it as you would ask AWS to)")
	fs.DurationVar(&c.IteratorTTL, "iterator-ttl", 5*time.Minute, "how long shard iterators stay valid (AWS: 5m; shorter for tests)")
	fs.DurationVar(&c.SubscriptionLifetime, "subscription-lifetime", 5*time.Minute, "how long a SubscribeToShard stream lasts (AWS: 5m; shorter for tests)")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "loopback address serving Go's profiler at /debug/pprof/ (off by default)")
	fs.IntVar(&c.MaxConnections, "max-connections", server.DefaultMaxConnections, "most open client connections, both ports together; new ones beyond it are closed at once")
	fs.StringVar(&c.Auth, "auth", "none", "authentication: none (any request; loopback only) or sigv4 (checked against --credentials-file)")
	fs.StringVar(&c.CredentialsFile, "credentials-file", "", "JSON file of users and access keys for --auth sigv4; reloaded on SIGHUP")
	fs.BoolVar(&c.InsecureAllowAnonymous, "insecure-allow-anonymous", false, "allow --auth none on a non-loopback address")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "file holding the 32-byte master key of encryption at rest (64 hex or base64); or the key itself in SLUICE_MASTER_KEY. Keep it out of the data dir")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// applyEnv sets every flag not given on the command line from SLUICE_<NAME>.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "SLUICE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

func serve(args []string, stderr io.Writer) int {
	var cfg serveConfig
	fs := flag.NewFlagSet("sluice serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := applyEnv(fs); err == nil {
		err = cfg.Validate()
		if err != nil {
			fmt.Fprintln(stderr, "sluice:", err)
			return 2
		}
	} else {
		fmt.Fprintln(stderr, "sluice:", err)
		return 2
	}
	if err := runServer(cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	return 0
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// runServer opens the data directory, serves until SIGINT or SIGTERM, and
// shuts down cleanly: in-flight requests finish, then logs are synced and
// closed.
func runServer(cfg serveConfig, stderr io.Writer) error {
	log := newLogger(cfg.LogLevel, stderr)
	setGCPercent()
	// The key ring is checked before anything in the data directory is
	// opened: a wrong master key must change no file.
	ring, err := openKeyRing(cfg, log)
	if err != nil {
		return err
	}
	sopts := storage.Options{Logger: log, NoSync: cfg.Fsync == "off",
		SharedSync: cfg.Fsync == "filesystem" || cfg.Fsync == "on"}
	if sopts.NoSync {
		log.Warn("--fsync off: writes are acknowledged before they are on disk; a machine crash can lose acknowledged records")
	}
	if ring != nil {
		sopts.DataKeys = ring
	}
	store, err := storage.Open(vfs.Default(), cfg.DataDir, sopts)
	if err != nil {
		return describeOpenError(cfg.DataDir, err)
	}
	ecfg := engine.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, StateDelay: cfg.StateDelay,
		IteratorTTL: cfg.IteratorTTL, SubscriptionLifetime: cfg.SubscriptionLifetime, Logger: log,
		Keys: ring, ShardQuota: cfg.ShardQuota,
	}
	if cfg.ShardLimits == "aws" {
		ecfg.ShardLimits = engine.AWSShardLimits()
	}
	eng, err := engine.Open(ecfg, store)
	if err != nil {
		store.Close()
		return fmt.Errorf("load streams from %s: %w", cfg.DataDir, err)
	}
	scfg := server.Config{Listen: cfg.Listen, TLSListen: cfg.TLSListen, AccountID: cfg.AccountID, Logger: log,
		MaxConnections: cfg.MaxConnections}
	var reload func() error
	if cfg.Auth == "sigv4" {
		creds, err := auth.LoadCredentials(cfg.CredentialsFile)
		if err != nil {
			eng.Close()
			store.Close()
			return err
		}
		scfg.Verifier = auth.NewVerifier(creds, nil)
		reload = func() error {
			creds, err := auth.LoadCredentials(cfg.CredentialsFile)
			if err == nil {
				scfg.Verifier.Load(creds)
			}
			return err
		}
	}
	if cfg.TLSListen != "" {
		if scfg.TLS, err = server.TLSConfig(cfg.TLSCert, cfg.TLSKey, cfg.DataDir); err != nil {
			eng.Close()
			store.Close()
			return err
		}
	}
	srv := server.New(scfg, kinesis.New(eng, log))
	if err := srv.Listen(); err != nil {
		eng.Close()
		store.Close()
		return err
	}
	if a := srv.TLSAddr(); a != nil {
		log.Info("sluice serving TLS", "addr", "https://"+a.String())
	}
	if ring != nil {
		log.Info("encryption at rest available", "keys", len(ring.List()))
	} else {
		log.Info("encryption at rest is off: no master key (--master-key-file or SLUICE_MASTER_KEY)")
	}
	if a := srv.Addr(); a != nil {
		log.Info("sluice serving", "version", version, "addr", "http://"+a.String(), "data-dir", cfg.DataDir)
	} else {
		log.Info("sluice serving TLS only", "version", version, "data-dir", cfg.DataDir)
	}

	if cfg.DebugListen != "" {
		if err := serveDebug(cfg.DebugListen, log); err != nil {
			log.Error("debug listener", "err", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
wait:
	select {
	case <-hup:
		if ring != nil {
			if err := ring.Reload(); err != nil {
				log.Error("reload key ring; keeping the old one", "err", err)
			} else {
				log.Info("key ring reloaded")
			}
		}
		if reload != nil {
			if err := reload(); err != nil {
				log.Error("reload credentials; keeping the old ones", "err", err)
			} else {
				log.Info("credentials reloaded", "file", cfg.CredentialsFile)
			}
		}
		goto wait
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		eng.EndSubscriptions()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	return errors.Join(err, eng.Close(), store.Close())
}

// serveDebug serves net/http/pprof's handlers on addr until the process
// exits.
func serveDebug(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiler serving", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}

// openKeyRing opens the data directory's key ring with the master key, or
// returns nil if no master key is given and the directory has no ring
// (streams then cannot be encrypted). A directory that has a ring needs
// its master key: its encrypted segments are unreadable without it.
func openKeyRing(cfg serveConfig, log *slog.Logger) (*keyring.Ring, error) {
	master, err := keyring.LoadMasterKey(cfg.MasterKeyFile, os.Getenv(keyring.EnvMasterKey))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if master == nil {
		if keyring.Exists(cfg.DataDir) {
			return nil, fmt.Errorf("data directory %s has a key ring (%s): give its master key with --master-key-file or SLUICE_MASTER_KEY",
				cfg.DataDir, keyring.FileName)
		}
		return nil, nil
	}
	if cfg.MasterKeyFile != "" && keyring.FilePermsTooOpen(cfg.MasterKeyFile) {
		log.Warn("master key file is readable by other users; chmod 600 it", "file", cfg.MasterKeyFile)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, describeOpenError(cfg.DataDir, err)
	}
	ring, err := keyring.Open(cfg.DataDir, master, keyring.Options{Region: cfg.Region, AccountID: cfg.AccountID})
	if err != nil {
		return nil, err
	}
	return ring, nil
}

// describeOpenError turns a storage open failure into one line an operator
// can act on.
func describeOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, storage.ErrLocked):
		return fmt.Errorf("data directory %s is in use by another sluice process", dir)
	case errors.Is(err, storage.ErrIncompatibleVersion):
		return fmt.Errorf("data directory %s was written by an incompatible version: %w", dir, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return fmt.Errorf("open data directory %s: %w", dir, err)
}

// serveGCPercent is the server's garbage collection target unless GOGC is
// set. Its live heap is small (tens of MiB, even with 10,000 shards) and
// every request allocates its body and decoded records, so Go's default of
// 100 collects every few MiB allocated: a quarter of a busy server's CPU.
// At 400 the heap may grow to five times what is live before a
// collection: `sluice bench put` (500 x 100 B) measured 3.7 instead of 5.3
// CPU-seconds per million records, and a peak RSS of 35 instead of 24 MiB.
const serveGCPercent = 400

// setGCPercent applies serveGCPercent unless the operator set GOGC, which
// the Go runtime has then applied already.
func setGCPercent() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(serveGCPercent)
	}
}
