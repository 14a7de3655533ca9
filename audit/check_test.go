package audit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckStoreHonest(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name             string
		signed, unsigned int
	}{
		{"empty", 0, 0},
		{"unsigned", 0, 5},
		{"signed", MaxEntriesPerCall + 3, 0},
		{"signed then grew", 700, MaxEntriesPerCall + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			m.add(t, tt.signed, canasta.AuditRedemption)
			if tt.signed > 0 {
				if _, err := NewLog(m).Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			m.add(t, tt.unsigned, canasta.AuditRedemption)
			var done int64
			got, err := CheckStore(ctx, m, "", func(d, _ int64) { done = d })
			if err != nil {
				t.Fatal(err)
			}
			n := int64(tt.signed + tt.unsigned)
			if got.Size != n || got.Root != mustTreeHash(t, m, n) || (n > 0 && done != n) {
				t.Fatalf("checked %d entries (progress %d), want %d with its root", got.Size, done, n)
			}
			if (got.Checkpoint != nil) != (tt.signed > 0) || (got.Checkpoint != nil && got.Checkpoint.Size != int64(tt.signed)) {
				t.Fatalf("checkpoint %+v, want one of size %d", got.Checkpoint, tt.signed)
			}
		})
	}
}

func TestCheckStoreDetects(t *testing.T) {
	ctx := context.Background()
	const n = 1500
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, m *memStore)
		pin    func(vkey string) string
		want   Problem
		detail string
	}{
		{"edit entry", func(t *testing.T, m *memStore) { m.editLeaf(t, 1234) }, nil,
			ProblemRewrite, "entry 1234 does not match its stored hash"},
		{"edit entry and its leaf hash", func(t *testing.T, m *memStore) {
			m.editLeaf(t, 1234)
			m.hashes[tlog.StoredHashIndex(0, 1234)] = tlog.RecordHash(m.leaves[1234])
		}, nil, ProblemRewrite, "stored hash over entries 1234 to 1235"},
		{"edit inner hash", func(t *testing.T, m *memStore) {
			h := m.hashes[tlog.StoredHashIndex(3, 9)]
			h[0] ^= 1
			m.hashes[tlog.StoredHashIndex(3, 9)] = h
		}, nil, ProblemRewrite, "stored hash over entries 72 to 79"},
		{"rebuild after edit", func(t *testing.T, m *memStore) {
			keep, cps := m.checkpoints, m.newest
			m.editLeaf(t, 10)
			m.rebuild(t)
			m.checkpoints, m.newest = keep, cps
		}, nil, ProblemRewrite, "newest checkpoint signs root"},
		{"reorder", func(t *testing.T, m *memStore) { m.swap(3, 4) }, nil, ProblemReorder, "position 3 says it is entry 4"},
		{"truncate", func(t *testing.T, m *memStore) { m.truncate(n - 1) }, nil, ProblemTruncation, "signs 1500 entries, but the store holds 1499"},
		{"checkpoint forged", func(t *testing.T, m *memStore) {
			m.checkpoints[m.newest] = flipAt(m.checkpoints[m.newest], len(m.checkpoints[m.newest])-4)
		}, nil, ProblemSignature, ""},
		{"key replaced", func(t *testing.T, m *memStore) { m.skey, _ = NewSignerKey(DefaultOrigin) }, nil, ProblemSignature, ""},
		{"key not the pinned one", func(t *testing.T, m *memStore) {}, func(string) string {
			s, _ := NewSignerKey(DefaultOrigin)
			v, _ := VerifierKey(s)
			return v
		}, ProblemKey, "not the pinned"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			m.add(t, n, canasta.AuditRedemption)
			l := NewLog(m)
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			vkey, _ := l.VerifierKey(ctx)
			if _, err := CheckStore(ctx, m, vkey, nil); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tt.tamper(t, m)
			pin := ""
			if tt.pin != nil {
				pin = tt.pin(vkey)
			}
			_, err := CheckStore(ctx, m, pin, nil)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Problem != tt.want || !strings.Contains(ve.Detail, tt.detail) {
				t.Fatalf("CheckStore: %v, want %s: …%s…", err, tt.want, tt.detail)
			}
		})
	}
}
