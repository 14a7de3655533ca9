package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/canasta/canasta/audit"
	"github.com/schollz/progressbar/v3"
)

// auditBarThreshold is the run length from which verify shows progress:
// shorter runs finish before a bar would be read.
const auditBarThreshold = 20000

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: canasta audit verify (--url URL [--state FILE] | --data DIR | --db URL) …")
	}
	switch sub, args := args[0], args[1:]; sub {
	case "verify":
		return runAuditVerify(ctx, args, stdout, stderr)
	default:
		return fmt.Errorf("unknown audit command %q: use verify", sub)
	}
}

// runAuditVerify checks a log as an independent auditor (--url) or a
// store offline (--data, --db). Any problem found is the command's error,
// named first: fork, rewrite, reorder, truncation, bad signature or key
// changed.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", stderr)
	var sf storeFlags
	sf.register(fs)
	url := fs.String("url", "", "base URL of a Canasta server whose public audit log to verify")
	statePath := fs.String("state", "", "file keeping the key, the last verified checkpoint and the tree edge between runs (with --url)")
	key := fs.String("key", "", "pin the checkpoint verifier key instead of trusting the first one seen")
	full := fs.Bool("full", false, "re-hash every entry, not only those added since the state's checkpoint (with --url)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: canasta audit verify --url URL [--state FILE] [--key KEY] [--full]")
		fmt.Fprintln(stderr, "       canasta audit verify (--data DIR | --db URL) [--key KEY]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	offline := sf.data != "" || sf.db != ""
	switch {
	case *url != "" && offline:
		return fmt.Errorf("give either --url (a server's public log) or --data/--db (a store, offline), not both")
	case *url == "" && !offline:
		fs.Usage()
		return fmt.Errorf("give --url URL to audit a server, or --data DIR or --db URL to check a store offline")
	case offline && (*statePath != "" || *full):
		return fmt.Errorf("--state and --full go with --url; an offline check always re-hashes the whole store")
	}
	if offline {
		return verifyStore(ctx, &sf, *key, stdout, stderr)
	}
	return verifyURL(ctx, *url, *statePath, *key, *full, stdout, stderr)
}

// verifyURL audits a server's public log, starting from the state file
// if there is one and saving the new state only if everything checked.
func verifyURL(ctx context.Context, url, statePath, key string, full bool, stdout, stderr io.Writer) error {
	prev, err := loadAuditState(statePath)
	if err != nil {
		return err
	}
	bar := newAuditBar("Hashing audit entries", stderr)
	a := &audit.Auditor{Log: audit.NewClient(url), Key: key, Full: full, Progress: bar.progress}
	res, err := a.Verify(ctx, prev)
	bar.finish()
	if err != nil {
		return fmt.Errorf("audit log at %s: %w", url, err)
	}
	if res.FirstUse {
		fmt.Fprintf(stderr, "Trusting key %s on first use; pin it with --key to be sure it is the operator's.\n", res.State.Key)
	}
	if statePath != "" {
		if err := saveAuditState(statePath, res.State); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Audit log verified: %d entries (%d new), root %s\n", res.State.Size, res.Hashed, res.State.Root)
	return nil
}

// verifyStore checks a store's log offline.
func verifyStore(ctx context.Context, sf *storeFlags, key string, stdout, stderr io.Writer) error {
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	if st.audit == nil {
		return fmt.Errorf("this store keeps no audit log")
	}
	bar := newAuditBar("Checking audit entries", stderr)
	c, err := audit.CheckStore(ctx, st.audit, key, bar.progress)
	bar.finish()
	if err != nil {
		return fmt.Errorf("stored audit log: %w", err)
	}
	signed := "no checkpoint signed yet"
	if c.Checkpoint != nil {
		signed = fmt.Sprintf("newest checkpoint %d entries, signed by %s", c.Checkpoint.Size, c.Key)
	}
	fmt.Fprintf(stdout, "Stored audit log verified: %d entries, root %s; %s\n", c.Size, c.Root, signed)
	return nil
}

// loadAuditState reads the state file; a missing file is a first run.
func loadAuditState(path string) (*audit.State, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read audit state: %w", err)
	}
	var s audit.State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("audit state file %s is damaged: %w", path, err)
	}
	return &s, nil
}

// saveAuditState replaces the state file whole, so a crash leaves either
// the old state or the new one.
func saveAuditState(path string, s *audit.State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode audit state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save audit state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save audit state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save audit state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save audit state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save audit state: %w", err)
	}
	return nil
}

// auditBar shows a progress bar once a run turns out to be long.
type auditBar struct {
	description string
	w           io.Writer
	bar         *progressbar.ProgressBar
}

func newAuditBar(description string, w io.Writer) *auditBar {
	return &auditBar{description: description, w: w}
}

func (b *auditBar) progress(done, total int64) {
	if b.bar == nil {
		if total < auditBarThreshold {
			return
		}
		b.bar = newCountBar(int(total), b.description, b.w)
	}
	b.bar.Set64(done)
}

func (b *auditBar) finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
}
