// Command canasta runs the Canasta benefits-card platform: the API server,
// a populated demo, and the administrative commands that work against the
// same store (an SQLite data directory or a PostgreSQL database) while
// servers run on it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/canasta/canasta"
)

const usage = `Usage: canasta <command> [flags]

Commands:
  demo                      start a populated instance on a throwaway data directory
  serve                     serve the API from a store (--data DIR or --db URL)
  token create|revoke|list  manage staff bearer tokens
  user create|disable|list  manage staff accounts of the web application
  import FILE.csv           bulk-import a registry CSV file
  cycle run                 compute entitlements for a period
  synth                     write a synthetic registry CSV file
  dedup                     find likely duplicate persons (--out pairs.csv)
  keys rotate|retire|list   manage the card-signing keys
  card verify|decode        verify a card code offline; read a QR picture
  audit verify              audit the transparent log of a server (--url) or a store
  bench redeem              measure redemption throughput and latency
  point                     run an offline point agent (--server URL --data DIR --enroll TOKEN)

Run 'canasta <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "canasta:", message(err))
		os.Exit(1)
	}
}

// message shows an application error's message and any other error whole:
// on the command line the operator is the one who needs the detail.
func message(err error) string {
	if canasta.ErrorCode(err) != canasta.EINTERNAL {
		return canasta.ErrorMessage(err)
	}
	return err.Error()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "token":
		return runToken(ctx, args, stdout, stderr)
	case "user":
		return runUser(ctx, args, stdout, stderr)
	case "import":
		return runImport(ctx, args, stdout, stderr)
	case "cycle":
		return runCycle(ctx, args, stdout, stderr)
	case "keys":
		return runKeys(ctx, args, stdout, stderr)
	case "card":
		return runCard(ctx, args, stdout, stderr)
	case "synth":
		return runSynth(ctx, args, stdout, stderr)
	case "audit":
		return runAudit(ctx, args, stdout, stderr)
	case "point":
		return runPoint(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "dedup":
		return runDedup(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("canasta "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
