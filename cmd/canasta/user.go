package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/canasta/canasta"
)

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: canasta user create|disable|list --data DIR | --db URL")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("user "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	var role, username, passwordFile string
	if sub == "create" {
		fs.StringVar(&role, "role", "", "role: admin, registrar, operator or auditor")
		fs.StringVar(&username, "username", "", "sign-in name: lower-case letters, digits, dots, dashes, underscores")
		fs.StringVar(&passwordFile, "password-file", "", "file holding the password (first line); without it a password is generated and printed")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch sub {
	case "create":
		if !canasta.Role(role).Valid() {
			return fmt.Errorf("--role must be admin, registrar, operator or auditor")
		}
		if username == "" {
			return fmt.Errorf("--username is required")
		}
	case "disable":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: canasta user disable --data DIR | --db URL ID")
		}
	case "list":
	default:
		return fmt.Errorf("unknown user command %q: use create, disable or list", sub)
	}
	password, generated := "", false
	if sub == "create" {
		var err error
		if password, generated, err = userPassword(passwordFile); err != nil {
			return err
		}
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	if st.users == nil {
		return fmt.Errorf("this store keeps no staff accounts")
	}
	switch sub {
	case "create":
		u, err := st.users.CreateUser(ctx, username, canasta.Role(role), password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created %s account %q (user %d).\n", u.Role, u.Username, u.ID)
		if generated {
			fmt.Fprintln(stderr, "Its password follows; it is shown only once.")
			fmt.Fprintln(stdout, password)
		}
	case "disable":
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("user id must be a number, not %q", fs.Arg(0))
		}
		if err := st.users.DisableUser(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Disabled user %d; their sessions end at their next request.\n", id)
	case "list":
		users, err := st.users.FindUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tUSERNAME\tCREATED\tDISABLED")
		for _, u := range users {
			disabled := "-"
			if u.DisabledAt != nil {
				disabled = u.DisabledAt.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Role, u.Username, u.CreatedAt.UTC().Format("2006-01-02 15:04"), disabled)
		}
		return tw.Flush()
	}
	return nil
}

// userPassword reads the password from the file's first line, or
// generates one when no file is given.
func userPassword(file string) (password string, generated bool, err error) {
	if file == "" {
		return newPassword(), true, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), false, nil
}

// newPassword returns 20 characters from an alphabet without look-alikes
// (about 100 bits), easy to copy from a terminal.
func newPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
	return randomString(alphabet, 20)
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	var buf [1]byte
	for i := 0; i < n; {
		rand.Read(buf[:])
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}
