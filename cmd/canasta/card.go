package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// cardIssuer is the iss claim of the cards this command's servers sign.
const cardIssuer = "canasta"

// maxKeysBytes bounds a downloaded or read key list; a real one holds a
// few keys of a hundred bytes each.
const maxKeysBytes = 1 << 20

// newCardService returns the card service on the store, or an error if
// the store keeps no cards.
func newCardService(st *store) (*card.Service, error) {
	if st.cards == nil {
		return nil, fmt.Errorf("this store does not keep cards; use --data DIR")
	}
	return card.NewService(st.cards, cardIssuer), nil
}

func runCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: canasta card verify|decode …")
	}
	switch sub, args := args[0], args[1:]; sub {
	case "verify":
		return runCardVerify(ctx, args, stdout, stderr)
	case "decode":
		return runCardDecode(args, stdout, stderr)
	default:
		return fmt.Errorf("unknown card command %q: use verify or decode", sub)
	}
}

// runCardVerify checks a code offline through every layer and prints its
// claims as JSON; a failure names the step it failed at.
func runCardVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("card verify", stderr)
	prefix := fs.String("prefix", card.Prefix, "the code's prefix, e.g. HC1: for an EU health certificate")
	keys := fs.String("keys", "", "file or http(s) URL of a key list as /api/v1/cards/keys serves it")
	cert := fs.String("cert", "", "the issuer's X.509 signing certificate, DER or PEM")
	at := fs.String("at", "", "check validity at this RFC 3339 time instead of now")
	ignoreTime := fs.Bool("ignore-time", false, "skip the expiry, issue-time and key-period checks")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: canasta card verify [--prefix CN1:] (--keys FILE_OR_URL | --cert FILE) [--at RFC3339 | --ignore-time] CODE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("give exactly one code (quote it: codes may hold spaces)")
	}
	if (*keys == "") == (*cert == "") {
		return fmt.Errorf("give the trusted keys with exactly one of --keys or --cert")
	}
	opts := card.VerifyOptions{Prefix: *prefix, IgnoreTime: *ignoreTime}
	if *at != "" {
		if *ignoreTime {
			return fmt.Errorf("give --at or --ignore-time, not both")
		}
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--at must be an RFC 3339 time such as 2026-05-01T12:00:00Z, not %q", *at)
		}
		opts.At = t
	}
	var err error
	if *keys != "" {
		opts.Keys, err = loadKeyList(ctx, *keys)
	} else {
		opts.Keys, err = loadCertificate(*cert)
	}
	if err != nil {
		return err
	}

	v, err := card.Verify(fs.Arg(0), opts)
	var ve *card.VerifyError
	if errors.As(err, &ve) {
		return canasta.Errorf(canasta.EINVALID, "Verification failed at step %s: %v.", ve.Step, ve.Err)
	} else if err != nil {
		return err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // claims are read by people, not embedded in HTML
	enc.SetIndent("", "  ")
	if err := enc.Encode(v.Raw); err != nil {
		return fmt.Errorf("encode claims: %w", err)
	}
	fmt.Fprintf(stderr, "Valid: %s signature by key %x", v.Alg, v.KID)
	if !v.Expires.IsZero() {
		fmt.Fprintf(stderr, ", expires %s", v.Expires.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(stderr, ".")
	_, err = stdout.Write(out.Bytes())
	return err
}

// loadKeyList reads a key list from a file or an http(s) URL.
func loadKeyList(ctx context.Context, src string) (*card.KeySet, error) {
	var (
		b   []byte
		err error
	)
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		b, err = fetch(ctx, src)
	} else {
		b, err = readBounded(src, maxKeysBytes)
	}
	if err != nil {
		return nil, err
	}
	var list card.PublicKeysResponse
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("key list %s: %w", src, err)
	}
	if len(list.Keys) == 0 {
		return nil, fmt.Errorf("key list %s holds no keys", src)
	}
	keys, err := card.NewKeySet(list.Keys...)
	if err != nil {
		return nil, fmt.Errorf("key list %s: %w", src, err)
	}
	return keys, nil
}

// fetch downloads a key list, giving up after 30 seconds.
func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, fmt.Errorf("key list URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key list %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch key list: %w", err)
	}
	if len(b) > maxKeysBytes {
		return nil, fmt.Errorf("key list %s is larger than %d bytes", url, maxKeysBytes)
	}
	return b, nil
}

func loadCertificate(path string) (*card.KeySet, error) {
	b, err := readBounded(path, maxKeysBytes)
	if err != nil {
		return nil, err
	}
	pub, err := card.PublicKeyFromCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	keys, err := card.NewKeySet(pub)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return keys, nil
}

// runCardDecode prints the text of the QR code in a PNG picture.
func runCardDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("card decode", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Usage: canasta card decode PNGFILE") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return flag.ErrHelp
	}
	// A QR picture of MaxQRPixels² pixels at 4 bytes each is the most a
	// decodable PNG can need; its compressed file is far smaller.
	b, err := readBounded(fs.Arg(0), 4*card.MaxQRPixels*card.MaxQRPixels)
	if err != nil {
		return err
	}
	text, err := card.DecodeQR(b)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	fmt.Fprintln(stdout, text)
	return nil
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}
