package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// testSign stands in for package card's signer: it writes what it was
// given, so a test can see the store set the id and version first.
func testSign(c *canasta.Card) (string, error) {
	return fmt.Sprintf("CN1:%s/%d/%s", c.ID, c.Version, c.HouseholdID), nil
}

func mustCreateSigningKey(tb testing.TB, s canasta.CardStore, kid string) *canasta.SigningKey {
	tb.Helper()
	k := &canasta.SigningKey{KID: kid, Alg: "EdDSA", Private: []byte("PEM of " + kid)}
	if err := s.CreateSigningKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustCreateCard(tb testing.TB, s canasta.CardStore, householdID string, keyID int64) *canasta.Card {
	tb.Helper()
	c := &canasta.Card{HouseholdID: householdID, KeyID: keyID, IssuedAt: Now,
		ExpiresAt: Now.AddDate(5, 0, 0), PINHash: "$argon2id$test"}
	if err := s.CreateCard(context.Background(), c, testSign); err != nil {
		tb.Fatal(err)
	}
	return c
}

func testSigningKeys(t *testing.T, opener Opener) {
	st := open(t, opener)
	s := st.Cards
	ctx := context.Background()

	created := Now.Add(-time.Hour)
	first := &canasta.SigningKey{KID: "0011223344556677", Alg: "EdDSA", Private: []byte("first"), CreatedAt: created}
	if err := s.CreateSigningKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := mustCreateSigningKey(t, s, "8899aabbccddeeff")
	if first.ID <= 0 || second.ID <= first.ID {
		t.Fatalf("key ids %d, %d: want increasing positive ids", first.ID, second.ID)
	}
	if !second.CreatedAt.Equal(Now) {
		t.Fatalf("key without a creation time got %v, want the store's clock %v", second.CreatedAt, Now)
	}

	for _, tt := range []struct {
		name string
		key  *canasta.SigningKey
		code string
	}{
		{"DuplicateKID", &canasta.SigningKey{KID: first.KID, Alg: "EdDSA", Private: []byte("x")}, canasta.ECONFLICT},
		{"NoKID", &canasta.SigningKey{Alg: "EdDSA", Private: []byte("x")}, canasta.EINVALID},
		{"NoPrivate", &canasta.SigningKey{KID: "ff", Alg: "EdDSA"}, canasta.EINVALID},
	} {
		t.Run("Create"+tt.name, func(t *testing.T) {
			wantCode(t, s.CreateSigningKey(ctx, tt.key), tt.code)
		})
	}

	t.Run("FindOldestFirst", func(t *testing.T) {
		keys, err := s.FindSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].ID != first.ID || keys[1].ID != second.ID {
			t.Fatalf("keys = %+v, want first then second", keys)
		}
		if keys[0].KID != first.KID || keys[0].Alg != "EdDSA" || string(keys[0].Private) != "first" ||
			!keys[0].CreatedAt.Equal(created) || keys[0].RetiredAt != nil {
			t.Fatalf("first key read back as %+v", *keys[0])
		}
	})

	t.Run("RetireKeepsFirstTime", func(t *testing.T) {
		retired := Now.Add(time.Hour)
		st.clock.Set(retired)
		if err := s.RetireSigningKey(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		st.clock.Set(retired.Add(time.Hour))
		if err := s.RetireSigningKey(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		keys, err := s.FindSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if keys[0].RetiredAt == nil || !keys[0].RetiredAt.Equal(retired) || keys[1].RetiredAt != nil {
			t.Fatalf("after retiring the first key: %+v, %+v", *keys[0], *keys[1])
		}
	})

	t.Run("RetireUnknown", func(t *testing.T) {
		wantCode(t, s.RetireSigningKey(ctx, 999), canasta.ENOTFOUND)
	})

	t.Run("SecondHandleSees", func(t *testing.T) {
		// Keys are shared through the store, so every server signs and
		// verifies with the same ones.
		keys, err := st.Reopen(t).Cards.FindSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		} else if len(keys) != 2 || string(keys[1].Private) != "PEM of 8899aabbccddeeff" {
			t.Fatalf("the other handle sees keys %+v", keys)
		}
	})
}

func testCardVersions(t *testing.T, opener Opener) {
	st := open(t, opener)
	s := st.Cards
	ctx := context.Background()
	key := mustCreateSigningKey(t, s, "0011223344556677")
	hh := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
	other := mustCreateHousehold(t, st.Store, NewHousehold(2, 1))

	if revoked, err := s.FindRevokedCards(ctx); err != nil || revoked == nil || len(revoked) != 0 {
		t.Fatalf("revoked cards of an empty store = %#v, %v; want an empty list", revoked, err)
	}
	v1 := mustCreateCard(t, s, hh.ID, key.ID)
	if !strings.HasPrefix(v1.ID, canasta.CardIDPrefix) || v1.Version != 1 || v1.HouseholdID != hh.ID {
		t.Fatalf("first card = %+v", *v1)
	}
	if want, _ := testSign(v1); v1.Code != want {
		t.Fatalf("code %q, want the signer's %q made after id and version were set", v1.Code, want)
	}

	reissuedAt := Now.Add(24 * time.Hour)
	st.clock.Set(reissuedAt)
	v2 := mustCreateCard(t, s, hh.ID, key.ID)
	if v2.ID != v1.ID || v2.Version != 2 {
		t.Fatalf("re-issued card %s version %d, want %s version 2", v2.ID, v2.Version, v1.ID)
	}
	otherCard := mustCreateCard(t, s, other.ID, key.ID)
	if otherCard.ID == v1.ID || otherCard.Version != 1 {
		t.Fatalf("another household's card = %+v", *otherCard)
	}

	t.Run("FindNewest", func(t *testing.T) {
		got, err := s.FindCardByID(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := *v2
		if got.Version != 2 || got.HouseholdID != hh.ID || got.Code != want.Code || got.KeyID != key.ID ||
			got.PINHash != want.PINHash || !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || got.RevokedAt != nil {
			t.Fatalf("found %+v, want %+v", *got, want)
		}
	})
	t.Run("PreviousVersionRevoked", func(t *testing.T) {
		revoked, err := s.FindRevokedCards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []canasta.RevokedCard{{CardID: v1.ID, Version: 1}}; !slices.Equal(revoked, want) {
			t.Fatalf("revoked = %v, want %v", revoked, want)
		}
	})
	t.Run("FindUnknown", func(t *testing.T) {
		_, err := s.FindCardByID(ctx, "card_nothing")
		wantCode(t, err, canasta.ENOTFOUND)
	})
	t.Run("UnknownHousehold", func(t *testing.T) {
		c := &canasta.Card{HouseholdID: "hh_nobody", KeyID: key.ID, IssuedAt: Now, ExpiresAt: Now.AddDate(1, 0, 0)}
		wantCode(t, s.CreateCard(ctx, c, testSign), canasta.ENOTFOUND)
	})
	t.Run("SignerFailureStoresNothing", func(t *testing.T) {
		c := &canasta.Card{HouseholdID: hh.ID, KeyID: key.ID, IssuedAt: Now, ExpiresAt: Now.AddDate(1, 0, 0)}
		err := s.CreateCard(ctx, c, func(*canasta.Card) (string, error) { return "", errors.New("key vanished") })
		if err == nil {
			t.Fatal("CreateCard succeeded although signing failed")
		}
		got, err := s.FindCardByID(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.RevokedAt != nil {
			t.Fatalf("after a failed re-issue the card is %+v, want version 2 live", *got)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		revokedAt := reissuedAt.Add(time.Hour)
		st.clock.Set(revokedAt)
		if err := s.RevokeCard(ctx, v1.ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindCardByID(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
			t.Fatalf("revoked card = %+v, want version 2 revoked at %v", *got, revokedAt)
		}
		wantCode(t, s.RevokeCard(ctx, v1.ID), canasta.ECONFLICT)
		wantCode(t, s.RevokeCard(ctx, "card_nothing"), canasta.ENOTFOUND)

		revoked, err := s.FindRevokedCards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []canasta.RevokedCard{{CardID: v1.ID, Version: 1}, {CardID: v1.ID, Version: 2}}; !slices.Equal(revoked, want) {
			t.Fatalf("revoked = %v, want %v", revoked, want)
		}
	})
	t.Run("ReissueAfterRevoke", func(t *testing.T) {
		v3 := mustCreateCard(t, s, hh.ID, key.ID)
		if v3.ID != v1.ID || v3.Version != 3 {
			t.Fatalf("card after revocation = %s version %d, want %s version 3", v3.ID, v3.Version, v1.ID)
		}
		got, err := s.FindCardByID(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 3 || got.RevokedAt != nil {
			t.Fatalf("newest = %+v, want version 3 live", *got)
		}
	})
	t.Run("SecondHandleSees", func(t *testing.T) {
		got, err := st.Reopen(t).Cards.FindCardByID(ctx, otherCard.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.HouseholdID != other.ID {
			t.Fatalf("second handle read %+v", *got)
		}
	})
}

// testCardsConcurrentReissue re-issues one household's card from several
// goroutines through two handles at once: every issue gets its own
// version and only the newest is live.
func testCardsConcurrentReissue(t *testing.T, opener Opener) {
	st := open(t, opener)
	stores := []canasta.CardStore{st.Cards, st.Reopen(t).Cards}
	key := mustCreateSigningKey(t, st.Cards, "0011223344556677")
	hh := mustCreateHousehold(t, st.Store, NewHousehold(1, 1))

	const n = 8
	versions := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &canasta.Card{HouseholdID: hh.ID, KeyID: key.ID, IssuedAt: Now, ExpiresAt: Now.AddDate(1, 0, 0), PINHash: "h"}
			if err := stores[i%2].CreateCard(context.Background(), c, testSign); err != nil {
				t.Error(err)
				return
			}
			versions[i], ids[i] = c.Version, c.ID
		})
	}
	wg.Wait()
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions %v, want 1 to %d once each", versions, n)
		}
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("card ids %v: want one id for the household", ids)
		}
	}
	revoked, err := st.Cards.FindRevokedCards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != n-1 || slices.ContainsFunc(revoked, func(r canasta.RevokedCard) bool { return r.Version == n }) {
		t.Fatalf("revoked %v, want every version but %d", revoked, n)
	}
}
