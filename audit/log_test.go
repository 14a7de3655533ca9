package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckpointText(t *testing.T) {
	root := tlog.RecordHash([]byte("x"))
	c := Checkpoint{Origin: "example.org/log", Size: 42, Root: root}
	want := "example.org/log\n42\n" + root.String() + "\n"
	if c.Text() != want {
		t.Fatalf("Text() = %q, want %q", c.Text(), want)
	}
	got, err := ParseCheckpoint(c.Text() + "extension line\n")
	if err != nil || got != c {
		t.Fatalf("ParseCheckpoint = %+v, %v; want %+v", got, err, c)
	}
	for _, tt := range []struct{ name, text string }{
		{"no newline", "o\n1\n" + root.String()},
		{"no root", "o\n1\n"},
		{"empty origin", "\n1\n" + root.String() + "\n"},
		{"negative size", "o\n-1\n" + root.String() + "\n"},
		{"leading zero", "o\n01\n" + root.String() + "\n"},
		{"size not a number", "o\nten\n" + root.String() + "\n"},
		{"short root", "o\n1\nAAAA\n"},
		{"root not base64", "o\n1\n" + strings.Repeat("!", 44) + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseCheckpoint(tt.text); err == nil {
				t.Fatalf("ParseCheckpoint(%q) accepted", tt.text)
			}
		})
	}
}

func TestSignAndOpenCheckpoint(t *testing.T) {
	skey, err := NewSignerKey("canasta/test")
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Origin: "canasta/test", Size: 7, Root: tlog.RecordHash([]byte("r"))}
	msg, err := SignCheckpoint(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenCheckpoint(msg, vkey); err != nil || got != c {
		t.Fatalf("OpenCheckpoint = %+v, %v", got, err)
	}

	otherSkey, _ := NewSignerKey("canasta/test")
	otherVkey, _ := VerifierKey(otherSkey)
	wrongOrigin, _ := SignCheckpoint(Checkpoint{Origin: "elsewhere", Size: 7, Root: c.Root}, skey)
	sigAt := bytes.Index(msg, []byte("\n\n— "))
	for _, tt := range []struct {
		name string
		msg  []byte
		vkey string
	}{
		{"other key", msg, otherVkey},
		{"size changed", bytes.Replace(msg, []byte("\n7\n"), []byte("\n8\n"), 1), vkey},
		{"signature changed", flipAt(msg, len(msg)-5), vkey},
		{"text changed", flipAt(msg, sigAt-3), vkey},
		{"origin not the key's name", wrongOrigin, vkey},
		{"no signature", []byte(c.Text()), vkey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenCheckpoint(tt.msg, tt.vkey); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func flipAt(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// TestVerifierKeyMatchesGenerated checks that the verifier key derived
// from a stored signer key is the one note.GenerateKey pairs with it.
func TestVerifierKeyMatchesGenerated(t *testing.T) {
	for range 5 {
		skey, vkey, err := note.GenerateKey(rand.Reader, "canasta/audit")
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifierKey(skey)
		if err != nil || got != vkey {
			t.Fatalf("VerifierKey = %q, %v; want %q", got, err, vkey)
		}
	}
	if _, err := VerifierKey("PRIVATE+KEY+x+00000000+AAAA"); err == nil {
		t.Fatal("VerifierKey accepted a malformed key")
	}
}

// TestLogCheckpoint checks that a checkpoint is signed on demand for the
// current size, kept, and re-signed only when the log grew.
func TestLogCheckpoint(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	l := NewLog(m)
	l.Origin = "canasta.example.org/audit"
	vkey, err := l.VerifierKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := KeyName(vkey); name != l.Origin {
		t.Fatalf("key name %q, want the origin", name)
	}

	for _, step := range []struct {
		add  int
		want int64
	}{{0, 0}, {3, 3}, {0, 3}, {1000, 1003}} {
		m.add(t, step.add, canasta.AuditCardIssue)
		msg, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(msg, vkey)
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != step.want || c.Root != mustTreeHash(t, m, step.want) || c.Origin != l.Origin {
			t.Fatalf("checkpoint %+v, want size %d and its tree hash", c, step.want)
		}
		if kept, keptMsg, _ := m.LatestAuditCheckpoint(ctx); kept != step.want || !bytes.Equal(keptMsg, msg) {
			t.Fatalf("kept checkpoint of size %d, want %d", kept, step.want)
		}
		again, _ := l.Checkpoint(ctx)
		if !bytes.Equal(again, msg) {
			t.Fatal("a checkpoint was re-signed though the log did not grow")
		}
	}

	// A second server on the same store signs with the same key.
	if vkey2, _ := NewLog(m).VerifierKey(ctx); vkey2 != vkey {
		t.Fatal("a second log on the same store has another key")
	}
}

// TestLogRun checks that Run publishes entries that arrive without anyone
// asking for a checkpoint.
func TestLogRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := newMemStore()
	l := NewLog(m)
	done := make(chan struct{})
	go func() { l.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	m.add(t, 5, canasta.AuditRedemption)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if size, _, err := m.LatestAuditCheckpoint(ctx); err == nil && size == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Run published no checkpoint of the 5 entries")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogEntries(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	m.add(t, MaxEntriesPerCall+5, canasta.AuditRedemption)
	l := NewLog(m)
	n := int64(MaxEntriesPerCall + 5)

	got, err := l.Entries(ctx, 3, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxEntriesPerCall || !bytes.Equal(got[0], m.leaves[3]) {
		t.Fatalf("Entries(3, %d) returned %d entries, want the capped %d from 3", n, len(got), MaxEntriesPerCall)
	}
	if got, _ := l.Entries(ctx, n-2, n+50); len(got) != 2 {
		t.Fatalf("Entries past the end returned %d, want the last 2", len(got))
	}
	if leaf, err := l.Entry(ctx, 7); err != nil || !bytes.Equal(leaf, m.leaves[7]) {
		t.Fatalf("Entry(7) = %s, %v", leaf, err)
	}
	for _, tt := range []struct {
		name       string
		start, end int64
		entry      bool
		code       string
	}{
		{"entry negative", -1, 0, true, canasta.ENOTFOUND},
		{"entry beyond", n, 0, true, canasta.ENOTFOUND},
		{"range negative", -1, 5, false, canasta.EINVALID},
		{"range empty", 5, 5, false, canasta.EINVALID},
		{"range reversed", 6, 5, false, canasta.EINVALID},
		{"range beyond", n, n + 10, false, canasta.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.entry {
				_, err = l.Entry(ctx, tt.start)
			} else {
				_, err = l.Entries(ctx, tt.start, tt.end)
			}
			if canasta.ErrorCode(err) != tt.code {
				t.Fatalf("error %v, want %s", err, tt.code)
			}
		})
	}
}

func TestLogProofArguments(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	m.add(t, 10, canasta.AuditRedemption)
	l := NewLog(m)
	for _, tt := range []struct {
		name        string
		a, b        int64
		consistency bool
	}{
		{"inclusion size zero", 0, 0, false},
		{"inclusion index at size", 5, 5, false},
		{"inclusion index negative", -1, 5, false},
		{"inclusion size beyond", 0, 11, false},
		{"consistency old zero", 0, 5, true},
		{"consistency old above new", 6, 5, true},
		{"consistency new beyond", 5, 11, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.consistency {
				_, err = l.ConsistencyProof(ctx, tt.a, tt.b)
			} else {
				_, _, err = l.InclusionProof(ctx, tt.a, tt.b)
			}
			if canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
		})
	}
	if p, err := l.ConsistencyProof(ctx, 10, 10); err != nil || len(p) != 0 {
		t.Fatalf("consistency of a tree with itself = %d hashes, %v; want none", len(p), err)
	}
}
