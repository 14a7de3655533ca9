package http_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestTokens(t *testing.T) {
	ts := newTestServer(t)

	var created struct {
		ID        int64        `json:"id"`
		Role      canasta.Role `json:"role"`
		Name      string       `json:"name"`
		CreatedAt time.Time    `json:"created_at"`
		Token     string       `json:"token"`
	}
	ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/tokens", token: ts.admin,
		body: map[string]string{"role": "operator", "name": "shop 1 till"}}).decode(t, &created)
	if created.ID <= 0 || created.Role != canasta.RoleOperator || created.Name != "shop 1 till" ||
		created.CreatedAt.IsZero() || len(created.Token) < 40 {
		t.Fatalf("created token = %+v", created)
	}

	t.Run("WorksAtOnce", func(t *testing.T) {
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/points", token: created.Token})
	})
	t.Run("ListedWithoutSecret", func(t *testing.T) {
		r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/tokens", token: ts.admin})
		var list struct{ Tokens []canasta.Token }
		r.decode(t, &list)
		if len(list.Tokens) != 2 {
			t.Fatalf("tokens = %s", r.body)
		}
		if strings.Contains(string(r.body), created.Token) || strings.Contains(string(r.body), ts.admin) {
			t.Fatal("token list shows a secret")
		}
	})
	t.Run("BadRole", func(t *testing.T) {
		ts.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/tokens", token: ts.admin,
			body: map[string]string{"role": "superuser", "name": "x"}})
	})
	t.Run("Revoke", func(t *testing.T) {
		r := ts.mustDo(t, http.StatusNoContent, request{method: "POST", path: "/api/v1/tokens/" + itoa(created.ID) + "/revoke", token: ts.admin})
		if len(r.body) != 0 {
			t.Fatalf("204 with body %q", r.body)
		}
		ts.mustDo(t, http.StatusUnauthorized, request{method: "GET", path: "/api/v1/points", token: created.Token})
	})
	t.Run("RevokeUnknown", func(t *testing.T) {
		ts.mustDo(t, http.StatusNotFound, request{method: "POST", path: "/api/v1/tokens/9999/revoke", token: ts.admin})
		ts.mustDo(t, http.StatusNotFound, request{method: "POST", path: "/api/v1/tokens/abc/revoke", token: ts.admin})
	})
}

// TestTokenFromAnotherProcess creates and revokes a token through a second
// handle on the database file, as the CLI does while the server runs.
func TestTokenFromAnotherProcess(t *testing.T) {
	ts := newTestServer(t)
	other := sqlite.NewDB(ts.db.Path)
	other.Logger = slog.New(slog.DiscardHandler)
	if err := other.Open(); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tokens := sqlite.NewTokenService(other)
	ctx := context.Background()

	tok, secret, err := tokens.CreateToken(ctx, canasta.RoleAuditor, "cli auditor")
	if err != nil {
		t.Fatal(err)
	}
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/points", token: secret})

	if err := tokens.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	r := ts.mustDo(t, http.StatusUnauthorized, request{method: "GET", path: "/api/v1/points", token: secret})
	if r.errorCode(t) != canasta.EUNAUTHORIZED {
		t.Fatalf("body = %s", r.body)
	}
}
