package card

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func testRevocations() RevocationList {
	return RevocationList{
		IssuedAt: issuedAt,
		Expires:  issuedAt.AddDate(0, 0, 7),
		Entries:  []Revoked{{CardID: "card_b", Version: 1}, {CardID: "card_a", Version: 3}, {CardID: "card_b", Version: 1}},
	}
}

func TestRevocations(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	b, err := SignRevocations(k, testRevocations())
	if err != nil {
		t.Fatal(err)
	}
	l, err := VerifyRevocations(b, keys, issuedAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 2 || !l.IssuedAt.Equal(issuedAt) || !l.Expires.Equal(issuedAt.AddDate(0, 0, 7)) {
		t.Fatalf("list %+v: want 2 deduplicated entries and the signed times", l)
	}
	tests := []struct {
		name    string
		cardID  string
		version int
		want    bool
	}{
		{"ExactPair", "card_a", 3, true},
		{"OtherCardExactPair", "card_b", 1, true},
		{"LowerVersionNotImplied", "card_a", 2, false},
		{"HigherVersionNotImplied", "card_a", 4, false},
		{"UnlistedCard", "card_c", 1, false},
	}
	unindexed := testRevocations()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Revoked(tt.cardID, tt.version); got != tt.want {
				t.Errorf("Revoked(%s, %d) = %v, want %v", tt.cardID, tt.version, got, tt.want)
			}
			if got := unindexed.Revoked(tt.cardID, tt.version); got != tt.want {
				t.Errorf("unverified list: Revoked(%s, %d) = %v, want %v", tt.cardID, tt.version, got, tt.want)
			}
		})
	}
}

func TestVerifyRevocationsRefuses(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	good, err := SignRevocations(k, testRevocations())
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(good, []byte("card_a"), []byte("card_z"), 1)
	card, err := sign1(k, issuedAt, mustClaims(t, testClaims()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
		keys *KeySet
		at   time.Time
		step Step
	}{
		{"Expired", good, keys, issuedAt.AddDate(0, 0, 7), StepExpired},
		{"IssuedInFuture", good, keys, issuedAt.Add(-time.Hour), StepNotYetValid},
		{"UnknownKey", good, keySet(t, newEdKey(t)), issuedAt, StepKID},
		{"Tampered", tampered, keys, issuedAt, StepSignature},
		{"CardIsNoList", card, keys, issuedAt, StepClaims},
		{"Garbage", []byte("not cose"), keys, issuedAt, StepCOSE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyRevocations(tt.b, tt.keys, tt.at)
			wantStep(t, err, tt.step)
		})
	}
}

func TestSignRevocationsRefuses(t *testing.T) {
	k := goldenKey(t)
	tests := []struct {
		name string
		edit func(l *RevocationList)
	}{
		{"NoIssueTime", func(l *RevocationList) { l.IssuedAt = time.Time{} }},
		{"ExpiresBeforeIssued", func(l *RevocationList) { l.Expires = l.IssuedAt }},
		{"VersionZero", func(l *RevocationList) { l.Entries = []Revoked{{CardID: "card_a", Version: 0}} }},
		{"EmptyCardID", func(l *RevocationList) { l.Entries = []Revoked{{CardID: "", Version: 1}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testRevocations()
			tt.edit(&l)
			if _, err := SignRevocations(k, l); canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("SignRevocations: %v, want EINVALID", err)
			}
		})
	}
}

func TestRevocationsEmptyList(t *testing.T) {
	k := goldenKey(t)
	b, err := SignRevocations(k, RevocationList{IssuedAt: issuedAt, Expires: expiresAt})
	if err != nil {
		t.Fatal(err)
	}
	l, err := VerifyRevocations(b, keySet(t, k), checkedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 0 || l.Revoked("card_a", 1) {
		t.Errorf("empty list %+v revokes something", l)
	}
}

// TestRevocationsLarge checks a list longer than the CBOR decoder's default
// array bound (131072), as a national registry's list may be.
func TestRevocationsLarge(t *testing.T) {
	k := goldenKey(t)
	l := RevocationList{IssuedAt: issuedAt, Expires: expiresAt, Entries: make([]Revoked, 150_000)}
	for i := range l.Entries {
		l.Entries[i] = Revoked{CardID: "c" + strconv.Itoa(i), Version: 1 + i%3}
	}
	b, err := SignRevocations(k, l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyRevocations(b, keySet(t, k), checkedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != len(l.Entries) || !got.Revoked("c149999", 1+149999%3) || got.Revoked("c149999", 4) {
		t.Errorf("large list: %d entries", len(got.Entries))
	}
}
