package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// auditLeaves reads the whole log and checks it is a well-formed tree:
// entry i says index i, and the stored hashes are exactly those appending
// the leaves one by one computes.
func auditLeaves(tb testing.TB, st *Store) []*canasta.AuditEntry {
	tb.Helper()
	ctx := context.Background()
	n, err := st.Audit.AuditSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	leaves, err := st.Audit.FindAuditLeaves(ctx, 0, n)
	if err != nil {
		tb.Fatal(err)
	}
	read := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		hs, err := st.Audit.ReadAuditHashes(ctx, indexes)
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = h
		}
		return out, err
	})
	entries := make([]*canasta.AuditEntry, len(leaves))
	for i, leaf := range leaves {
		e, err := audit.ParseLeaf(leaf)
		if err != nil {
			tb.Fatal(err)
		}
		if e.Index != int64(i) {
			tb.Fatalf("entry %d says index %d", i, e.Index)
		}
		want, err := tlog.StoredHashes(int64(i), leaf, read)
		if err != nil {
			tb.Fatal(err)
		}
		got, err := read.ReadHashes(indexRange(tlog.StoredHashIndex(0, int64(i)), len(want)))
		if err != nil {
			tb.Fatal(err)
		}
		for j := range want {
			if got[j] != want[j] {
				tb.Fatalf("entry %d: stored hash %d differs from the recomputed one", i, j)
			}
		}
		entries[i] = e
	}
	return entries
}

func indexRange(first int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

// testAuditLog checks that every kind of change appends its entry in the
// same transaction, that entries hold no personal data in the clear, and
// that a failed change appends nothing.
func testAuditLog(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := staff(canasta.PurposeEnrollment)
	declareSyntheticAttributes(t, st.Store)
	before := len(auditLeaves(t, st.Store))
	if before != len(SyntheticAttributes()) {
		t.Fatalf("after declaring %d attributes the log has %d entries", len(SyntheticAttributes()), before)
	}

	h := NewHousehold(1, 2)
	h.Members[0].GivenName, h.Members[0].FamilyName = "Auditada", "Secretísima"
	mustCreateHousehold(t, st.Store, h)
	mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", "1000")
	mustCreatePoint(t, st.Store)
	mustImport(t, st.Store, SyntheticHouseholds(10, 3))
	if _, err := st.Cycles.RunCycle(ctx, Period, nil); err != nil {
		t.Fatal(err)
	}
	key := mustCreateSigningKey(t, st.Cards, "k1")
	c := mustCreateCard(t, st.Cards, h.ID, key.ID)
	if err := st.Cards.RevokeCard(ctx, c.ID); err != nil {
		t.Fatal(err)
	}

	// A refused change appends nothing.
	dup := NewHousehold(1, 2)
	wantCode(t, st.Households.CreateHousehold(ctx, dup), canasta.ECONFLICT)

	entries := auditLeaves(t, st.Store)[before:]
	var types []canasta.AuditType
	for _, e := range entries {
		types = append(types, e.Type)
	}
	want := []canasta.AuditType{
		canasta.AuditHouseholdCreate, canasta.AuditProgramCreate, canasta.AuditPointCreate,
		canasta.AuditHouseholdCreate, canasta.AuditHouseholdCreate, canasta.AuditHouseholdCreate,
		canasta.AuditCycleGrants, canasta.AuditSigningKeyCreate, canasta.AuditCardIssue, canasta.AuditCardRevoke,
	}
	if len(types) != len(want) {
		t.Fatalf("entries %v\nwant %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("entries %v\nwant %v", types, want)
		}
	}
	if entries[0].Objects["household"] != h.ID || entries[0].Commitment == "" || entries[0].ActorRole != string(canasta.RoleRegistrar) && entries[0].ActorRole != "system" {
		t.Fatalf("household entry %+v", entries[0])
	}
	if entries[8].Objects["card"] != c.ID || entries[8].Objects["household"] != h.ID {
		t.Fatalf("card entry %+v", entries[8])
	}
	if entries[6].Digest == "" || entries[6].Objects["period"] != string(Period) {
		t.Fatalf("cycle entry %+v", entries[6])
	}
	n, _ := st.Audit.AuditSize(context.Background())
	leaves, err := st.Audit.FindAuditLeaves(context.Background(), 0, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaf := range leaves {
		for _, secret := range []string{"Auditada", "Secretísima", h.Members[0].NationalID} {
			if secret != "" && bytes.Contains(leaf, []byte(secret)) {
				t.Fatalf("leaf holds %q in the clear: %s", secret, leaf)
			}
		}
	}
	if _, err := st.Audit.FindAuditLeaves(context.Background(), 0, n+1); canasta.ErrorCode(err) != canasta.EINVALID {
		t.Fatalf("reading past the log: %v, want EINVALID", err)
	}
}

// testAuditCheckpoints checks the signer key is created once and that
// only newer checkpoints replace the kept one.
func testAuditCheckpoints(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	if _, _, err := st.Audit.LatestAuditCheckpoint(ctx); canasta.ErrorCode(err) != canasta.ENOTFOUND {
		t.Fatalf("no checkpoint yet: %v, want ENOTFOUND", err)
	}
	k1, err := st.Audit.AuditSignerKey(ctx, func() (string, error) { return "first", nil })
	if err != nil {
		t.Fatal(err)
	}
	other := st.Reopen(t)
	k2, err := other.Audit.AuditSignerKey(ctx, func() (string, error) { return "second", nil })
	if err != nil {
		t.Fatal(err)
	}
	if k1 != "first" || k2 != "first" {
		t.Fatalf("signer keys %q, %q: want the first created on both handles", k1, k2)
	}
	for _, c := range []struct {
		size int64
		note string
	}{{5, "five"}, {3, "three"}, {5, "five again"}, {9, "nine"}, {7, "seven"}} {
		if err := st.Audit.SaveAuditCheckpoint(ctx, c.size, []byte(c.note)); err != nil {
			t.Fatal(err)
		}
	}
	size, note, err := other.Audit.LatestAuditCheckpoint(ctx)
	if err != nil || size != 9 || string(note) != "nine" {
		t.Fatalf("latest checkpoint %d %q %v, want 9 nine", size, note, err)
	}
}
