package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/canasta/canasta"
)

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: canasta token create|revoke|list --data DIR | --db URL")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("token "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	var role, name string
	if sub == "create" {
		fs.StringVar(&role, "role", "", "role: admin, registrar, operator or auditor")
		fs.StringVar(&name, "name", "", "who or what the token is for")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch sub {
	case "create":
		if !canasta.Role(role).Valid() {
			return fmt.Errorf("--role must be admin, registrar, operator or auditor")
		}
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: canasta token revoke --data DIR | --db URL ID")
		}
	case "list":
	default:
		return fmt.Errorf("unknown token command %q: use create, revoke or list", sub)
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	switch sub {
	case "create":
		tok, secret, err := st.tokens.CreateToken(ctx, canasta.Role(role), name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created %s token %d. Keep it secret; it is shown only once.\n", tok.Role, tok.ID)
		fmt.Fprintln(stdout, secret)
	case "revoke":
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("token id must be a number, not %q", fs.Arg(0))
		}
		if err := st.tokens.RevokeToken(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked token %d.\n", id)
	case "list":
		toks, err := st.tokens.FindTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tREVOKED")
		for _, t := range toks {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.CreatedAt.UTC().Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	}
	return nil
}
