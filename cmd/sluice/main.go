// Command sluice is a self-hosted streaming data platform that speaks the
// Amazon Kinesis APIs.
//
//	sluice serve [flags]    run the server
//	sluice tail [flags] S   follow a stream's records
//	sluice keys <cmd>       manage the key ring of encryption at rest
//	sluice bench <mode>     load-test a Kinesis endpoint, or the disk
//	sluice version          print the version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "bench") {
		execWithMadvFree()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "tail":
		return tail(args[1:], stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	case "bench":
		return benchRun(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "sluice", version)
		return 0
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: sluice <command> [flags]

Commands:
  serve     run the Kinesis-compatible server (see sluice serve -h)
  tail      follow every shard of a stream and print its records (sluice tail -h)
  keys      manage the encryption-at-rest key ring: create, list, alias, rotate (sluice keys help)
  bench     load-test any Kinesis endpoint: put, get, e2e, fanout; or the disk (sluice bench help)
  version   print the version
`)
}
