package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func testTokens(t *testing.T, opener Opener) {
	st := open(t, opener)
	s := st.Tokens
	ctx := context.Background()

	t.Run("EmptyListIsNotNil", func(t *testing.T) {
		got, err := s.FindTokens(ctx)
		if err != nil {
			t.Fatal(err)
		} else if got == nil || len(got) != 0 {
			t.Fatalf("FindTokens on an empty store = %#v, want an empty list", got)
		}
	})
	t.Run("CreateRejectsUnknownRole", func(t *testing.T) {
		_, _, err := s.CreateToken(ctx, "root", "x")
		wantCode(t, err, canasta.EINVALID)
	})
	t.Run("CreateRejectsLongName", func(t *testing.T) {
		_, _, err := s.CreateToken(ctx, canasta.RoleAdmin, strings.Repeat("x", 201))
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
	if admin.ID == 0 || admin.ID == op.ID || admin.Name != "ops" || admin.Role != canasta.RoleAdmin || !admin.CreatedAt.Equal(Now) || admin.RevokedAt != nil {
		t.Fatalf("created token %+v", *admin)
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
			if tt.code == "" && (tok.ID != tt.wantID || !tok.CreatedAt.Equal(Now)) {
				t.Fatalf("authenticated as token %+v, want %d", *tok, tt.wantID)
			}
		})
	}

	t.Run("Revoke", func(t *testing.T) {
		revokedAt := Now.Add(time.Hour)
		st.clock.Set(revokedAt)
		defer st.clock.Set(Now)
		if err := s.RevokeToken(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Authenticate(ctx, opSecret)
		wantCode(t, err, canasta.EUNAUTHORIZED)
		if _, err := s.Authenticate(ctx, adminSecret); err != nil {
			t.Fatalf("revoking one token affected another: %v", err)
		}
		// Revoking again keeps the first time.
		st.clock.Set(revokedAt.Add(time.Hour))
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
		if toks[1].Name != "till" || toks[1].Role != canasta.RoleOperator || !toks[1].CreatedAt.Equal(Now) {
			t.Fatalf("operator token stored as %+v", *toks[1])
		}
	})

	t.Run("RevokeUnknown", func(t *testing.T) {
		wantCode(t, s.RevokeToken(ctx, 999), canasta.ENOTFOUND)
	})
}

func testAccessLog(t *testing.T, opener Opener) {
	st := open(t, opener)
	h := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
	other := mustCreateHousehold(t, st.Store, NewHousehold(2, 1))
	ctx := context.Background()

	// Internal reads carry no actor and are not logged.
	if _, err := st.Households.FindHouseholdByID(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Entitlements.FindEntitlements(ctx, h.ID, Period); err != nil {
		t.Fatal(err)
	}
	// A failed read logs nothing either.
	if _, err := st.Households.FindHouseholdByID(staff(canasta.PurposeAudit), "hh_none"); canasta.ErrorCode(err) != canasta.ENOTFOUND {
		t.Fatalf("err = %v, want ENOTFOUND", err)
	}
	if events, err := st.AccessLog.FindAccessEvents(ctx, h.ID); err != nil || events == nil || len(events) != 0 {
		t.Fatalf("access log before staff reads = %#v, %v; want an empty list", events, err)
	}

	if _, err := st.Households.FindHouseholdByID(staff(canasta.PurposeEnrollment), h.ID); err != nil {
		t.Fatal(err)
	}
	st.clock.Set(Now.Add(time.Minute))
	if _, err := st.Households.FindHouseholdBySourceID(staff(canasta.PurposeGrievance), "P0000001-1"); err != nil {
		t.Fatal(err)
	}
	st.clock.Set(Now.Add(2 * time.Minute))
	if _, err := st.Entitlements.FindEntitlements(staff(""), h.ID, Period); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Households.FindHouseholdByID(staff(canasta.PurposeAudit), other.ID); err != nil {
		t.Fatal(err)
	}

	events, err := st.AccessLog.FindAccessEvents(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		action  string
		purpose canasta.Purpose
		at      time.Time
	}{
		{"read-entitlements", "", Now.Add(2 * time.Minute)},
		{"read-household", canasta.PurposeGrievance, Now.Add(time.Minute)},
		{"read-household", canasta.PurposeEnrollment, Now},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.Action != w.action || e.Purpose != w.purpose || !e.At.Equal(w.at) || e.HouseholdID != h.ID || e.ID == 0 ||
			e.TokenID != 7 || e.ActorName != "clerk" || e.Role != canasta.RoleRegistrar {
			t.Errorf("event %d = %+v, want %s/%s at %v by token 7 clerk registrar", i, *e, w.action, w.purpose, w.at)
		}
	}

	t.Run("UnknownHousehold", func(t *testing.T) {
		_, err := st.AccessLog.FindAccessEvents(ctx, "hh_none")
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

// testSecondHandle checks that a handle on the same database, as another
// server or a CLI command beside the server, sees the other's writes at
// once: nothing is cached in a process.
func testSecondHandle(t *testing.T, opener Opener) {
	server := open(t, opener)
	cli := server.Reopen(t)
	ctx := context.Background()

	// The server authenticates once before the token exists, to warm up
	// any cache it might have.
	_, err := server.Tokens.Authenticate(ctx, "cnst_nothing")
	wantCode(t, err, canasta.EUNAUTHORIZED)

	tok, secret, err := cli.Tokens.CreateToken(ctx, canasta.RoleOperator, "till 1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := server.Tokens.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("the server does not see the token another handle created: %v", err)
	} else if got.ID != tok.ID || got.Role != canasta.RoleOperator {
		t.Fatalf("the server sees token %+v, want %+v", got, tok)
	}

	if err := cli.Tokens.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = server.Tokens.Authenticate(ctx, secret)
	wantCode(t, err, canasta.EUNAUTHORIZED)

	// A program, a household and a cycle made through one handle are
	// there for a redemption through the other, and its debit is seen at
	// once by the first.
	declareSyntheticAttributes(t, cli)
	p := mustCreateProgram(t, cli, "Seeds", "seeds", canasta.UnitGram, ruleFarmer, "2500")
	h := NewHousehold(1, 2)
	h.Attributes = map[string]any{"farmer": true}
	mustCreateHousehold(t, server.Store, h)
	point := mustCreatePoint(t, cli)
	if _, err := cli.Cycles.RunCycle(ctx, Period, nil); err != nil {
		t.Fatal(err)
	}
	req := &canasta.RedemptionRequest{RequestID: "r1", PointID: point.ID, HouseholdID: h.ID, Items: []canasta.RedemptionItem{item(p, 1000)}}
	if _, _, err := server.Redemptions.Redeem(ctx, req); err != nil {
		t.Fatal(err)
	}
	ents, err := cli.Entitlements.FindEntitlements(ctx, h.ID, Period)
	if err != nil {
		t.Fatal(err)
	} else if len(ents) != 1 || ents[0].Remaining != 1500 {
		t.Fatalf("the other handle sees %+v, want 1500 g remaining", ents)
	}
	if _, replay, err := cli.Redemptions.Redeem(ctx, req); err != nil || !replay {
		t.Fatalf("the same request through the other handle: replay %v, err %v; want a replay", replay, err)
	}
}
