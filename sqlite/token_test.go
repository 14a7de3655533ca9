package sqlite_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestTokenService(t *testing.T) {
	db, clock := MustOpenDB(t)
	s := sqlite.NewTokenService(db)
	ctx := context.Background()

	t.Run("CreateRejectsUnknownRole", func(t *testing.T) {
		_, _, err := s.CreateToken(ctx, "root", "x")
		wantCode(t, err, canasta.EINVALID)
	})

	admin, adminSecret, err := s.CreateToken(ctx, canasta.RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	op, opSecret, err := s.CreateToken(ctx, canasta.RoleOperator, "till")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(adminSecret, canasta.TokenPrefix) || adminSecret == opSecret {
		t.Fatalf("secrets %q and %q: want distinct, prefixed %q", adminSecret, opSecret, canasta.TokenPrefix)
	}

	for _, tt := range []struct {
		name   string
		secret string
		wantID int64
		code   string
	}{
		{"Admin", adminSecret, admin.ID, ""},
		{"Operator", opSecret, op.ID, ""},
		{"Unknown", canasta.NewTokenSecret(), 0, canasta.EUNAUTHORIZED},
		{"Empty", "", 0, canasta.EUNAUTHORIZED},
		{"HashInsteadOfSecret", string(canasta.HashTokenSecret(adminSecret)), 0, canasta.EUNAUTHORIZED},
	} {
		t.Run("Authenticate"+tt.name, func(t *testing.T) {
			tok, err := s.Authenticate(ctx, tt.secret)
			wantCode(t, err, tt.code)
			if tt.code == "" && tok.ID != tt.wantID {
				t.Fatalf("authenticated as token %d, want %d", tok.ID, tt.wantID)
			}
		})
	}

	t.Run("Revoke", func(t *testing.T) {
		revokedAt := testNow.Add(time.Hour)
		clock.Set(revokedAt)
		if err := s.RevokeToken(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Authenticate(ctx, opSecret)
		wantCode(t, err, canasta.EUNAUTHORIZED)
		if _, err := s.Authenticate(ctx, adminSecret); err != nil {
			t.Fatalf("revoking one token affected another: %v", err)
		}
		// Revoking again keeps the first time.
		clock.Set(revokedAt.Add(time.Hour))
		if err := s.RevokeToken(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		toks, err := s.FindTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 2 || toks[0].RevokedAt != nil || toks[1].RevokedAt == nil || !toks[1].RevokedAt.Equal(revokedAt) {
			t.Fatalf("tokens %+v: want admin live and operator revoked at %v", toks, revokedAt)
		}
		if toks[1].Name != "till" || toks[1].Role != canasta.RoleOperator || !toks[1].CreatedAt.Equal(testNow) {
			t.Fatalf("operator token stored as %+v", *toks[1])
		}
	})

	t.Run("RevokeUnknown", func(t *testing.T) {
		wantCode(t, s.RevokeToken(ctx, 999), canasta.ENOTFOUND)
	})
}
