package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	runOut := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, args, &out, io.Discard)
		return out.String(), err
	}

	t.Run("CreateGeneratesPassword", func(t *testing.T) {
		out, err := runOut(t, "user", "create", "--data", data, "--role", "operator", "--username", "till")
		if err != nil {
			t.Fatal(err)
		}
		password := strings.TrimSpace(out)
		if len(password) != 20 {
			t.Fatalf("printed password %q, want 20 characters", password)
		}
		st, err := openSQLite(data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		if _, err := st.users.Authenticate(ctx, "till", password); err != nil {
			t.Fatalf("printed password does not sign in: %v", err)
		}
	})
	t.Run("CreateFromFile", func(t *testing.T) {
		file := filepath.Join(dir, "pw")
		if err := os.WriteFile(file, []byte("a password from a file\nignored\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runOut(t, "user", "create", "--data", data, "--role", "registrar", "--username", "ana", "--password-file", file)
		if err != nil || out != "" {
			t.Fatalf("out %q, err %v; want nothing printed", out, err)
		}
		st, err := openSQLite(data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		if _, err := st.users.Authenticate(ctx, "ana", "a password from a file"); err != nil {
			t.Fatal(err)
		}
	})
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"BadRole", []string{"user", "create", "--data", data, "--role", "root", "--username", "x1"}},
		{"NoUsername", []string{"user", "create", "--data", data, "--role", "admin"}},
		{"TakenUsername", []string{"user", "create", "--data", data, "--role", "admin", "--username", "till"}},
		{"UnknownSubcommand", []string{"user", "rename", "--data", data}},
		{"DisableUnknown", []string{"user", "disable", "--data", data, "99"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runOut(t, tt.args...); err == nil {
				t.Fatal("no error")
			}
		})
	}
	t.Run("ListAndDisable", func(t *testing.T) {
		if _, err := runOut(t, "user", "disable", "--data", data, "1"); err != nil {
			t.Fatal(err)
		}
		out, err := runOut(t, "user", "list", "--data", data)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], "till") || strings.HasSuffix(strings.TrimSpace(lines[1]), "-") ||
			!strings.Contains(lines[2], "ana") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "-") {
			t.Fatalf("list:\n%s", out)
		}
	})
}
