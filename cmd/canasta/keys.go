package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// runKeys manages the card-signing keys in a store. Servers read the keys
// from the store on every request, so a rotation or retirement counts at
// once, even while they run.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: canasta keys rotate|retire|list --data DIR")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch sub {
	case "rotate", "list":
		if fs.NArg() != 0 {
			return fmt.Errorf("usage: canasta keys %s --data DIR", sub)
		}
	case "retire":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: canasta keys retire --data DIR KID")
		}
	default:
		return fmt.Errorf("unknown keys command %q: use rotate, retire or list", sub)
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	cards, err := newCardService(st)
	if err != nil {
		return err
	}
	switch sub {
	case "rotate":
		k, err := cards.RotateKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Added %s key %s; it signs every card from now on. Cards signed by older keys stay valid until they expire.\n", k.Alg, k.KID)
		fmt.Fprintln(stdout, k.KID)
	case "retire":
		if err := cards.RetireKey(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Retired key %s: it signs no more cards; those it signed before stay valid until they expire.\n", fs.Arg(0))
	case "list":
		keys, err := cards.FindSigningKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tRETIRED")
		for _, k := range keys {
			retired := "-"
			if k.RetiredAt != nil {
				retired = k.RetiredAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), retired)
		}
		return tw.Flush()
	}
	return nil
}
