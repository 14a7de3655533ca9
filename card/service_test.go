package card_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// memStore is an in-memory canasta.CardStore that follows the contract's
// rules, so the service can be tested without a database.
type memStore struct {
	mu         sync.Mutex
	now        func() time.Time
	households map[string]bool
	keys       []*canasta.SigningKey
	cards      map[string][]*canasta.Card // by card id, oldest version first
	byHH       map[string]string
}

func newMemStore(now func() time.Time, households ...string) *memStore {
	s := &memStore{now: now, households: map[string]bool{}, cards: map[string][]*canasta.Card{}, byHH: map[string]string{}}
	for _, h := range households {
		s.households[h] = true
	}
	return s
}

func (s *memStore) CreateSigningKey(ctx context.Context, k *canasta.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.ID = int64(len(s.keys) + 1)
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	cp := *k
	s.keys = append(s.keys, &cp)
	return nil
}

func (s *memStore) FindSigningKeys(ctx context.Context) ([]*canasta.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*canasta.SigningKey, len(s.keys))
	for i, k := range s.keys {
		cp := *k
		out[i] = &cp
	}
	return out, nil
}

func (s *memStore) RetireSigningKey(ctx context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.keys) {
		return canasta.Errorf(canasta.ENOTFOUND, "Signing key %d not found.", id)
	}
	if k := s.keys[id-1]; k.RetiredAt == nil {
		t := s.now()
		k.RetiredAt = &t
	}
	return nil
}

func (s *memStore) CreateCard(ctx context.Context, c *canasta.Card, sign func(c *canasta.Card) (string, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.households[c.HouseholdID] {
		return canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", c.HouseholdID)
	}
	id, ok := s.byHH[c.HouseholdID]
	if !ok {
		id = canasta.NewID(canasta.CardIDPrefix)
	}
	versions := s.cards[id]
	now := s.now()
	for _, v := range versions {
		if v.RevokedAt == nil {
			v.RevokedAt = &now
		}
	}
	c.ID, c.Version = id, len(versions)+1
	code, err := sign(c)
	if err != nil {
		return err
	}
	c.Code = code
	cp := *c
	s.cards[id] = append(versions, &cp)
	s.byHH[c.HouseholdID] = id
	return nil
}

func (s *memStore) FindCardByID(ctx context.Context, id string) (*canasta.Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.cards[id]
	if len(vs) == 0 {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Card %q not found.", id)
	}
	cp := *vs[len(vs)-1]
	return &cp, nil
}

func (s *memStore) RevokeCard(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.cards[id]
	if len(vs) == 0 {
		return canasta.Errorf(canasta.ENOTFOUND, "Card %q not found.", id)
	}
	if c := vs[len(vs)-1]; c.RevokedAt != nil {
		return canasta.Errorf(canasta.ECONFLICT, "Card %s is already revoked.", id)
	} else {
		now := s.now()
		c.RevokedAt = &now
	}
	return nil
}

func (s *memStore) FindRevokedCards(ctx context.Context) ([]canasta.RevokedCard, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []canasta.RevokedCard
	for id, vs := range s.cards {
		for _, v := range vs {
			if v.RevokedAt != nil {
				out = append(out, canasta.RevokedCard{CardID: id, Version: v.Version})
			}
		}
	}
	return out, nil
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var serviceStart = time.Date(2026, 5, 4, 9, 30, 15, 123456000, time.UTC)

// fastPIN keeps PIN hashing cheap in tests; the parameters do not change
// what is checked.
var fastPIN = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

const (
	hhA = "hh_aaaaaaaaaaaaaaaa"
	hhB = "hh_bbbbbbbbbbbbbbbb"
)

func newService(t *testing.T) (*card.Service, *memStore, *clock) {
	t.Helper()
	c := &clock{now: serviceStart}
	st := newMemStore(c.Now, hhA, hhB)
	s := card.NewService(st, "canasta:test")
	s.Now = c.Now
	s.Validity = 365 * 24 * time.Hour
	s.PINParams = fastPIN
	return s, st, c
}

func mustIssueCard(t *testing.T, s *card.Service, householdID string) *canasta.IssuedCard {
	t.Helper()
	ic, err := s.IssueCard(context.Background(), householdID)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := canasta.ErrorCode(err); got != code {
		t.Fatalf("error code %q, want %q (err: %v)", got, code, err)
	}
}

// wantFailedStep checks that err is EINVALID from the named verification step.
func wantFailedStep(t *testing.T, err error, step card.Step) {
	t.Helper()
	wantCode(t, err, canasta.EINVALID)
	var ve *card.VerifyError
	if !errors.As(err, &ve) || ve.Step != step {
		t.Fatalf("error %v: want a failure at step %s", err, step)
	}
}

// publishedKeys reads the service's key list as a point would.
func publishedKeys(t *testing.T, s *card.Service) *card.KeySet {
	t.Helper()
	b, err := s.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var resp card.PublicKeysResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatalf("keys JSON %s: %v", b, err)
	}
	set, err := card.NewKeySet(resp.Keys...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func codeKID(t *testing.T, s *card.Service, code string, at time.Time) string {
	t.Helper()
	v, err := card.Verify(code, card.VerifyOptions{Keys: publishedKeys(t, s), At: at})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(v.KID)
}

func TestService_Issue(t *testing.T) {
	s, st, clk := newService(t)
	ctx := context.Background()

	ic := mustIssueCard(t, s, hhA)
	if !strings.HasPrefix(ic.CardID, canasta.CardIDPrefix) || ic.Version != 1 || !strings.HasPrefix(ic.Code, card.Prefix) {
		t.Fatalf("issued %+v", *ic)
	}
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(ic.PIN) {
		t.Fatalf("PIN %q is not 6 digits", ic.PIN)
	}
	if len(st.keys) != 1 {
		t.Fatalf("%d keys after the first issue, want 1 made on demand", len(st.keys))
	}

	t.Run("OfflineVerification", func(t *testing.T) {
		claims, err := card.VerifyCard(ic.Code, card.VerifyOptions{Keys: publishedKeys(t, s), At: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		want := serviceStart.Truncate(time.Second)
		if claims.CardID != ic.CardID || claims.Version != 1 || claims.Household != hhA || claims.Issuer != "canasta:test" ||
			!claims.IssuedAt.Equal(want) || !claims.Expires.Equal(want.Add(s.Validity)) {
			t.Fatalf("claims %+v", *claims)
		}
	})
	t.Run("StoredRecord", func(t *testing.T) {
		c, err := s.FindCardByID(ctx, ic.CardID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != ic.Code || c.KeyID != st.keys[0].ID || c.HouseholdID != hhA || strings.Contains(c.PINHash, ic.PIN) {
			t.Fatalf("stored %+v", *c)
		}
		if !strings.HasPrefix(c.PINHash, "$argon2id$") {
			t.Fatalf("PIN hash %q is not argon2id", c.PINHash)
		}
	})
	t.Run("PIN", func(t *testing.T) {
		for _, tt := range []struct {
			name, pin string
			want      bool
		}{
			{"Right", ic.PIN, true},
			{"Wrong", map[bool]string{true: "000001", false: "000000"}[ic.PIN == "000000"], false},
			{"Empty", "", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ok, err := s.CheckPIN(ctx, ic.CardID, tt.pin)
				if err != nil || ok != tt.want {
					t.Fatalf("CheckPIN(%q) = %v, %v; want %v", tt.pin, ok, err, tt.want)
				}
			})
		}
	})
	t.Run("Verify", func(t *testing.T) {
		c, err := s.VerifyCode(ctx, ic.Code)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != ic.CardID || c.Version != 1 || c.HouseholdID != hhA {
			t.Fatalf("verified %+v", *c)
		}
	})
	t.Run("UnknownHousehold", func(t *testing.T) {
		_, err := s.IssueCard(ctx, "hh_nobody")
		wantCode(t, err, canasta.ENOTFOUND)
	})
	t.Run("FreshPINs", func(t *testing.T) {
		seen := map[string]bool{}
		for range 5 {
			seen[mustIssueCard(t, s, hhB).PIN] = true
		}
		if len(seen) < 2 {
			t.Fatalf("five issues gave PINs %v", seen)
		}
	})
}

func TestService_Refusals(t *testing.T) {
	s, st, clk := newService(t)
	ctx := context.Background()
	v1 := mustIssueCard(t, s, hhA)
	clk.Set(serviceStart.Add(time.Hour))
	v2 := mustIssueCard(t, s, hhA)
	other := mustIssueCard(t, s, hhB)

	forger, err := card.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	claims := card.Claims{Issuer: "canasta:test", IssuedAt: serviceStart, Expires: serviceStart.AddDate(1, 0, 0),
		CardID: v2.CardID, Version: v2.Version, Household: hhA}
	forged, err := card.Issue(forger, claims, "")
	if err != nil {
		t.Fatal(err)
	}
	// Flip one character of the Base45 body: still well-formed text, but
	// no longer what was signed, or no longer valid compressed data.
	tampered := []byte(other.Code)
	i := len(tampered) - 10
	tampered[i] = map[bool]byte{true: 'B', false: 'A'}[tampered[i] == 'A']

	signing, err := card.ParseKey(st.keys[0].Private)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := card.Issue(signing, card.Claims{Issuer: "canasta:test", IssuedAt: serviceStart, Expires: serviceStart.AddDate(1, 0, 0),
		CardID: "card_neverissued", Version: 1, Household: hhA}, "")
	if err != nil {
		t.Fatal(err)
	}
	wrongHousehold, err := card.Issue(signing, card.Claims{Issuer: "canasta:test", IssuedAt: serviceStart, Expires: serviceStart.AddDate(1, 0, 0),
		CardID: other.CardID, Version: 1, Household: hhA}, "")
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, code string
		want       string
		step       card.Step
	}{
		{"Superseded", v1.Code, canasta.ECONFLICT, ""},
		{"Forged", forged, canasta.EINVALID, card.StepKID},
		{"Tampered", string(tampered), canasta.EINVALID, ""},
		{"WrongPrefix", "HC1:" + strings.TrimPrefix(other.Code, card.Prefix), canasta.EINVALID, card.StepPrefix},
		{"Empty", "", canasta.EINVALID, card.StepPrefix},
		{"NotInRegistry", unknown, canasta.EINVALID, ""},
		{"OtherHouseholdsCard", wrongHousehold, canasta.EINVALID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.VerifyCode(ctx, tt.code)
			if c != nil {
				t.Fatalf("refused code returned card %+v", *c)
			}
			if tt.step != "" {
				wantFailedStep(t, err, tt.step)
			} else {
				wantCode(t, err, tt.want)
			}
		})
	}

	t.Run("Revoked", func(t *testing.T) {
		if err := s.RevokeCard(ctx, v2.CardID); err != nil {
			t.Fatal(err)
		}
		_, err := s.VerifyCode(ctx, v2.Code)
		wantCode(t, err, canasta.ECONFLICT)
		wantCode(t, s.RevokeCard(ctx, v2.CardID), canasta.ECONFLICT)
		wantCode(t, s.RevokeCard(ctx, "card_nothing"), canasta.ENOTFOUND)
	})
	t.Run("Expired", func(t *testing.T) {
		if _, err := s.VerifyCode(ctx, other.Code); err != nil {
			t.Fatalf("card before expiry: %v", err)
		}
		clk.Set(serviceStart.Add(time.Hour + s.Validity))
		_, err := s.VerifyCode(ctx, other.Code)
		wantFailedStep(t, err, card.StepExpired)
	})
	t.Run("NotYetValid", func(t *testing.T) {
		clk.Set(serviceStart.Add(-time.Hour))
		_, err := s.VerifyCode(ctx, other.Code)
		wantFailedStep(t, err, card.StepNotYetValid)
	})
}

func TestService_Revocations(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	a1 := mustIssueCard(t, s, hhA)
	a2 := mustIssueCard(t, s, hhA)
	b1 := mustIssueCard(t, s, hhB)
	if err := s.RevokeCard(ctx, b1.CardID); err != nil {
		t.Fatal(err)
	}
	signed, err := s.SignedRevocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := publishedKeys(t, s)

	l, err := card.VerifyRevocations(signed, keys, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		card    *canasta.IssuedCard
		revoked bool
	}{
		{"Superseded", a1, true},
		{"Live", a2, false},
		{"Revoked", b1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Revoked(tt.card.CardID, tt.card.Version); got != tt.revoked {
				t.Fatalf("Revoked(%s, %d) = %v, want %v", tt.card.CardID, tt.card.Version, got, tt.revoked)
			}
		})
	}
	t.Run("ExpiresAfterTTL", func(t *testing.T) {
		_, err := card.VerifyRevocations(signed, keys, clk.Now().Add(s.RevocationTTL))
		wantFailedStep(t, err, card.StepExpired)
	})
}

func TestService_KeyRotation(t *testing.T) {
	s, st, clk := newService(t)
	ctx := context.Background()
	old := mustIssueCard(t, s, hhA)
	oldKID := st.keys[0].KID

	clk.Set(serviceStart.Add(time.Hour))
	rotated, err := s.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KID == oldKID || len(rotated.KID) != 16 || rotated.ID == 0 {
		t.Fatalf("rotated key %+v", *rotated)
	}
	clk.Set(serviceStart.Add(2 * time.Hour))
	fresh := mustIssueCard(t, s, hhB)
	if kid := codeKID(t, s, fresh.Code, clk.Now()); kid != rotated.KID {
		t.Fatalf("card after rotation signed by %s, want the new key %s", kid, rotated.KID)
	}
	if _, err := s.VerifyCode(ctx, old.Code); err != nil {
		t.Fatalf("card signed before rotation: %v", err)
	}

	// Retire the old key: it is no longer trusted, so what it signed stops
	// verifying, and so does a card it "signs" afterwards.
	retiredAt := serviceStart.Add(3 * time.Hour)
	clk.Set(retiredAt)
	if err := s.RetireKey(ctx, oldKID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RetireKey(ctx, oldKID), canasta.ECONFLICT)
	wantCode(t, s.RetireKey(ctx, "0000000000000000"), canasta.ENOTFOUND)
	wantCode(t, s.RetireKey(ctx, "not a kid!"), canasta.EINVALID)

	clk.Set(retiredAt.Add(time.Hour))
	_, err = s.VerifyCode(ctx, old.Code)
	wantFailedStep(t, err, card.StepKID)
	leaked, err := card.ParseKey(st.keys[0].Private)
	if err != nil {
		t.Fatal(err)
	}
	late, err := card.Issue(leaked, card.Claims{Issuer: "canasta:test", IssuedAt: retiredAt.Add(time.Minute),
		Expires: retiredAt.AddDate(1, 0, 0), CardID: old.CardID, Version: old.Version, Household: hhA}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.VerifyCode(ctx, late)
	wantFailedStep(t, err, card.StepKID)

	t.Run("RetiredKeyNotPublished", func(t *testing.T) {
		b, err := s.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var resp card.PublicKeysResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Keys) != 1 || hex.EncodeToString(resp.Keys[0].KID) != rotated.KID || !resp.Keys[0].NotAfter.IsZero() {
			t.Fatalf("published keys %s", b)
		}
		if strings.Contains(string(b), "PRIVATE") {
			t.Fatalf("published keys hold private material: %s", b)
		}
	})
	t.Run("RetireByPublishedKID", func(t *testing.T) {
		b, _ := s.PublicKeys(ctx)
		var raw struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if err := s.RetireKey(ctx, raw.Keys[0].KID); err != nil {
			t.Fatalf("retire by base64url kid %s: %v", raw.Keys[0].KID, err)
		}
	})
	t.Run("IssueAfterEveryKeyRetired", func(t *testing.T) {
		clk.Set(retiredAt.Add(2 * time.Hour))
		ic := mustIssueCard(t, s, hhB)
		if len(st.keys) != 3 {
			t.Fatalf("%d keys, want a third made when none could sign", len(st.keys))
		}
		if kid := codeKID(t, s, ic.Code, clk.Now()); kid != st.keys[2].KID {
			t.Fatalf("signed by %s, want the new key %s", kid, st.keys[2].KID)
		}
	})
}

// TestService_ConcurrentVerify verifies from many goroutines while keys
// rotate; run with -race.
func TestService_ConcurrentVerify(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	ic := mustIssueCard(t, s, hhA)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := s.VerifyCode(ctx, ic.Code); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if _, err := s.RotateKey(ctx); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}

// BenchmarkService_IssueCard measures one issue with the default PIN
// hashing, which dominates it by design.
func BenchmarkService_IssueCard(b *testing.B) {
	st := newMemStore(time.Now, hhA)
	s := card.NewService(st, "canasta:bench")
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.IssueCard(ctx, hhA); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkService_VerifyCode measures a check on an in-memory store:
// the cryptography plus the service's key handling, without a database.
func BenchmarkService_VerifyCode(b *testing.B) {
	st := newMemStore(time.Now, hhA)
	s := card.NewService(st, "canasta:bench")
	s.PINParams = fastPIN
	ctx := context.Background()
	ic, err := s.IssueCard(ctx, hhA)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.VerifyCode(ctx, ic.Code); err != nil {
			b.Fatal(err)
		}
	}
}
