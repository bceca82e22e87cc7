package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/sluicedata/sluice/internal/keyring"
)

// keysConfig is the settings every `sluice keys` subcommand shares. Each
// field maps to a flag --name and an environment variable SLUICE_NAME, as
// for `sluice serve`; a flag on the command line wins over the environment.
// The master key itself may also come from SLUICE_MASTER_KEY.
type keysConfig struct {
	DataDir string // the data directory holding keyring.json
	// MasterKeyFile holds the master key; "" means SLUICE_MASTER_KEY holds
	// the key itself.
	MasterKeyFile string
	Region        string // the region in key ARNs
	AccountID     string // the account id in key ARNs
}

// keysCommonFlags are the flags of keysConfig: only these are read from the
// environment, not a subcommand's own (--json, --alias, ...).
var keysCommonFlags = []string{"data-dir", "master-key-file", "region", "account-id"}

func (c *keysConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./sluice-data", "data directory holding the key ring (keyring.json), as for sluice serve")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "file holding the master key (64 hex characters or base64 of 32 bytes); without it, "+keyring.EnvMasterKey+" holds the key itself")
	fs.StringVar(&c.Region, "region", "us-east-1", "region used in key ARNs")
	fs.StringVar(&c.AccountID, "account-id", "000000000000", "12-digit account id used in key ARNs")
}

// Validate checks the settings once flags and environment are applied.
func (c *keysConfig) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("--data-dir must not be empty")
	case !regionPattern.MatchString(c.Region):
		return fmt.Errorf("--region %q is not a region name like us-east-1", c.Region)
	case !accountPattern.MatchString(c.AccountID):
		return fmt.Errorf("--account-id must be 12 digits, not %q", c.AccountID)
	}
	return nil
}

const keysUsageText = `Usage: sluice keys <subcommand> [flags] [arguments]

Manages the key ring for encryption at rest: keyring.json in the data
directory. Its keys are stored wrapped under a master key that is never kept
in the data directory: give it with --master-key-file FILE, or put the key
itself in SLUICE_MASTER_KEY.

Subcommands:
  new-master-key                  print a new random master key (64 hex characters)
  create [--description D] [--alias alias/NAME]
                                  create a key and print its id and ARN
  list [--json]                   list the keys
  alias alias/NAME KEY            point an alias at a key, creating or moving it
  rotate KEY                      add a key material version to a key; data keys
                                  wrapped under the older versions stay readable

KEY is a key id, key ARN, alias name (alias/NAME) or alias ARN.

Flags of every subcommand (environment variable in brackets):
  --data-dir DIR          the data directory [SLUICE_DATA_DIR] (default ./sluice-data)
  --master-key-file FILE  the master key file [SLUICE_MASTER_KEY_FILE]; without it,
                          SLUICE_MASTER_KEY holds the key itself
  --region REGION         region in key ARNs [SLUICE_REGION] (default us-east-1)
  --account-id ID         account id in key ARNs [SLUICE_ACCOUNT_ID] (default 000000000000)

Exit status: 0 done, 1 the operation failed, 2 bad usage or settings.
`

// keys runs `sluice keys <subcommand>`.
func keys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsageText)
		return 2
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "new-master-key":
		return keysNewMasterKey(args, stdout, stderr)
	case "create":
		return keysCreate(args, stdout, stderr)
	case "list":
		return keysList(args, stdout, stderr)
	case "alias":
		return keysAlias(args, stdout, stderr)
	case "rotate":
		return keysRotate(args, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, keysUsageText)
		return 0
	}
	fmt.Fprintf(stderr, "sluice keys: unknown subcommand %q\n\n", sub)
	fmt.Fprint(stderr, keysUsageText)
	return 2
}

// keysCommand is one subcommand's flag set and settings.
type keysCommand struct {
	cfg    keysConfig
	fs     *flag.FlagSet
	stderr io.Writer
}

func newKeysCommand(name, synopsis string, stderr io.Writer) *keysCommand {
	c := &keysCommand{fs: flag.NewFlagSet("sluice keys "+name, flag.ContinueOnError), stderr: stderr}
	c.fs.SetOutput(stderr)
	c.cfg.flags(c.fs)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sluice keys %s [flags] %s\n", name, synopsis)
		c.fs.PrintDefaults()
	}
	return c
}

// parse parses args, which may mix flags and arguments, applies the
// environment and validates; it wants exactly nargs arguments. It returns
// the arguments, or an exit code >= 0 when the command must stop.
func (c *keysCommand) parse(args []string, nargs int) ([]string, int) {
	pos, err := parseInterspersed(c.fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2 // the flag package has printed the error and usage
	}
	if len(pos) != nargs {
		fmt.Fprintf(c.stderr, "%s: takes %s, got %d\n", c.fs.Name(), plural(nargs, "argument"), len(pos))
		c.fs.Usage()
		return nil, 2
	}
	if err := applyEnvTo(c.fs, keysCommonFlags); err != nil {
		fmt.Fprintln(c.stderr, "sluice keys:", err)
		return nil, 2
	}
	if err := c.cfg.Validate(); err != nil {
		fmt.Fprintln(c.stderr, "sluice keys:", err)
		return nil, 2
	}
	return pos, -1
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// parseInterspersed parses flags wherever they stand among the arguments
// (`sluice keys alias alias/x KEY --data-dir d`), which the flag package
// alone stops at the first argument. After "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// applyEnvTo sets each of names not given on the command line from
// SLUICE_<NAME>, as applyEnv does for serve.
func applyEnvTo(fs *flag.FlagSet, names []string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range names {
		env := "SLUICE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	return nil
}

// openRing loads the master key and opens the key ring, reporting on stderr
// and returning an exit code >= 0 if it cannot.
func (c *keysCommand) openRing() (*keyring.Ring, int) {
	master, err := keyring.LoadMasterKey(c.cfg.MasterKeyFile, os.Getenv(keyring.EnvMasterKey))
	if err != nil {
		fmt.Fprintln(c.stderr, "sluice keys:", err)
		return nil, 2
	}
	if master == nil {
		fmt.Fprintf(c.stderr, "sluice keys: no master key: give --master-key-file FILE or set %s (make one with `sluice keys new-master-key`)\n", keyring.EnvMasterKey)
		return nil, 2
	}
	if f := c.cfg.MasterKeyFile; f != "" {
		if keyring.FilePermsTooOpen(f) {
			fmt.Fprintf(c.stderr, "sluice keys: warning: master key file %s can be read by other users; chmod 600 it\n", f)
		}
		if inside(c.cfg.DataDir, f) {
			fmt.Fprintf(c.stderr, "sluice keys: warning: master key file %s is inside the data directory %s; whoever copies the data directory gets the key too\n", f, c.cfg.DataDir)
		}
	}
	ring, err := keyring.Open(c.cfg.DataDir, master, keyring.Options{Region: c.cfg.Region, AccountID: c.cfg.AccountID})
	if err != nil {
		fmt.Fprintln(c.stderr, "sluice keys:", err)
		return nil, 1
	}
	return ring, -1
}

// inside reports whether path lies in dir.
func inside(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func keysNewMasterKey(args []string, stdout, stderr io.Writer) int {
	c := newKeysCommand("new-master-key", "", stderr)
	if _, code := c.parse(args, 0); code >= 0 {
		return code
	}
	fmt.Fprintln(stdout, hex.EncodeToString(keyring.NewMasterKey()))
	fmt.Fprintf(stderr, "sluice keys: keep this key out of the data directory: put it in a file of mode 0600 for --master-key-file, or in %s\n", keyring.EnvMasterKey)
	return 0
}

func keysCreate(args []string, stdout, stderr io.Writer) int {
	c := newKeysCommand("create", "", stderr)
	description := c.fs.String("description", "", "the key's description")
	alias := c.fs.String("alias", "", "also point this alias (alias/NAME) at the new key")
	if _, code := c.parse(args, 0); code >= 0 {
		return code
	}
	if *alias != "" {
		// Checked before the key is made, so a bad name leaves no
		// unnamed key behind.
		if err := keyring.CheckAlias(*alias); err != nil {
			fmt.Fprintln(stderr, "sluice keys: --alias:", err)
			return 2
		}
	}
	ring, code := c.openRing()
	if code >= 0 {
		return code
	}
	k, err := ring.Create(*description)
	if err != nil {
		fmt.Fprintln(stderr, "sluice keys: create key:", err)
		return 1
	}
	if *alias != "" {
		if err := ring.SetAlias(*alias, k.ID); err != nil {
			fmt.Fprintf(stderr, "sluice keys: key %s was created, but setting alias %s failed: %v\n", k.ID, *alias, err)
			return 1
		}
		k.Aliases = []string{*alias}
	}
	printKey(stdout, k, false)
	return 0
}

func keysList(args []string, stdout, stderr io.Writer) int {
	c := newKeysCommand("list", "", stderr)
	asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
	if _, code := c.parse(args, 0); code >= 0 {
		return code
	}
	ring, code := c.openRing()
	if code >= 0 {
		return code
	}
	list := ring.List()
	if *asJSON {
		return printKeysJSON(stdout, stderr, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KeyId\tAliases\tVersions\tCreated\tRotated\tDescription")
	for _, k := range list {
		aliases := strings.Join(k.Aliases, ",")
		if aliases == "" {
			aliases = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", k.ID, aliases, k.Versions, formatKeyTime(k.Created), formatKeyTime(k.Rotated), printable(k.Description))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "sluice keys:", err)
		return 1
	}
	return 0
}

// keyJSON is one element of `sluice keys list --json`, named like KMS's
// KeyMetadata where KMS has the field.
type keyJSON struct {
	KeyID        string   `json:"KeyId"`
	Arn          string   `json:"Arn"`
	Aliases      []string `json:"Aliases"`
	Description  string   `json:"Description"`
	CreationDate string   `json:"CreationDate"`          // RFC 3339
	Versions     int      `json:"Versions"`              // key material versions
	LastRotated  string   `json:"LastRotated,omitempty"` // RFC 3339; absent if never rotated
}

func printKeysJSON(stdout, stderr io.Writer, keys []keyring.Key) int {
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		j := keyJSON{
			KeyID: k.ID, Arn: k.ARN, Aliases: k.Aliases, Description: k.Description,
			CreationDate: k.Created.UTC().Format(time.RFC3339), Versions: k.Versions,
		}
		if j.Aliases == nil {
			j.Aliases = []string{}
		}
		if !k.Rotated.IsZero() {
			j.LastRotated = k.Rotated.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "sluice keys:", err)
		return 1
	}
	return 0
}

func keysAlias(args []string, stdout, stderr io.Writer) int {
	c := newKeysCommand("alias", "alias/NAME KEY", stderr)
	pos, code := c.parse(args, 2)
	if code >= 0 {
		return code
	}
	alias, ref := pos[0], pos[1]
	if err := keyring.CheckAlias(alias); err != nil {
		fmt.Fprintln(stderr, "sluice keys:", err)
		return 2
	}
	ring, code := c.openRing()
	if code >= 0 {
		return code
	}
	if err := ring.SetAlias(alias, ref); err != nil {
		fmt.Fprintf(stderr, "sluice keys: alias %s: %v\n", alias, err)
		return 1
	}
	k, err := ring.Resolve(alias)
	if err != nil {
		fmt.Fprintf(stderr, "sluice keys: alias %s: %v\n", alias, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s -> %s\n", alias, k.ID)
	return 0
}

func keysRotate(args []string, stdout, stderr io.Writer) int {
	c := newKeysCommand("rotate", "KEY", stderr)
	pos, code := c.parse(args, 1)
	if code >= 0 {
		return code
	}
	ring, code := c.openRing()
	if code >= 0 {
		return code
	}
	k, err := ring.Rotate(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "sluice keys: rotate %s: %v\n", pos[0], err)
		return 1
	}
	printKey(stdout, k, true)
	return 0
}

// printKey prints one key as aligned "Name  value" lines.
func printKey(w io.Writer, k keyring.Key, rotated bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KeyId\t%s\n", k.ID)
	fmt.Fprintf(tw, "Arn\t%s\n", k.ARN)
	if len(k.Aliases) > 0 {
		fmt.Fprintf(tw, "Aliases\t%s\n", strings.Join(k.Aliases, ","))
	}
	if rotated {
		fmt.Fprintf(tw, "Versions\t%s\n", strconv.Itoa(k.Versions))
		fmt.Fprintf(tw, "Rotated\t%s\n", formatKeyTime(k.Rotated))
	}
	tw.Flush()
}

func formatKeyTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printable keeps a description on its table row: control characters
// (tabs, newlines) become spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
