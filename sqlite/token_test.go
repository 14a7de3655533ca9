package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

// TestTokenService_AuthenticateConcurrent authenticates many secrets from
// many goroutines at once, so that calls share reads: each call must get
// its own secret's answer.
func TestTokenService_AuthenticateConcurrent(t *testing.T) {
	db, _ := MustOpenDB(t)
	s := sqlite.NewTokenService(db)
	ctx := context.Background()

	type token struct {
		tok     *canasta.Token
		secret  string
		revoked bool
	}
	var tokens []token
	for i := range 6 {
		tok, secret, err := s.CreateToken(ctx, canasta.RoleOperator, fmt.Sprintf("till %d", i))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token{tok: tok, secret: secret, revoked: i%3 == 2})
		if i%3 == 2 {
			if err := s.RevokeToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	tokens = append(tokens, token{secret: canasta.NewTokenSecret()}) // never issued

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				want := tokens[(g+i)%len(tokens)]
				got, err := s.Authenticate(ctx, want.secret)
				switch {
				case want.tok == nil || want.revoked:
					if canasta.ErrorCode(err) != canasta.EUNAUTHORIZED {
						t.Errorf("secret of token %+v: %+v, %v; want EUNAUTHORIZED", want.tok, got, err)
						return
					}
				case err != nil:
					t.Errorf("token %d: %v", want.tok.ID, err)
					return
				case got.ID != want.tok.ID || got.Name != want.tok.Name || got.Role != want.tok.Role:
					t.Errorf("secret of token %+v authenticated as %+v", want.tok, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestTokenService_RevokedFromAnotherProcess revokes a token through
// another handle, as the CLI would, while the server authenticates it from
// many goroutines: no call that began after the revocation returned may
// succeed.
func TestTokenService_RevokedFromAnotherProcess(t *testing.T) {
	db, clock := MustOpenDB(t)
	server := sqlite.NewTokenService(db)
	cli := sqlite.NewTokenService(mustOpenPath(t, db.Path, clock))
	ctx := context.Background()

	tok, secret, err := cli.CreateToken(ctx, canasta.RoleOperator, "till")
	if err != nil {
		t.Fatal(err)
	}
	// revoking and revokedAt are when RevokeToken was called and when it
	// returned, since start; zero until then.
	start := time.Now()
	var revoking, revokedAt, accepted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Since(start)
				_, err := server.Authenticate(ctx, secret)
				switch code := canasta.ErrorCode(err); {
				case err == nil:
					accepted.Add(1)
					if r := revokedAt.Load(); r != 0 && began > time.Duration(r) {
						t.Errorf("a call that began %v after the revocation returned was accepted", began-time.Duration(r))
					}
				case code == canasta.EUNAUTHORIZED:
					if r := revoking.Load(); r == 0 || time.Since(start) < time.Duration(r) {
						t.Error("a call that ended before the revocation began was refused")
					}
				default:
					t.Errorf("authenticate: %v", err)
				}
			}
		})
	}
	for accepted.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	revoking.Store(int64(time.Since(start)))
	if err := cli.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt.Store(int64(time.Since(start)))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if _, err := server.Authenticate(ctx, secret); canasta.ErrorCode(err) != canasta.EUNAUTHORIZED {
		t.Fatalf("after revocation: %v, want EUNAUTHORIZED", err)
	}
}

// TestTokenService_AuthenticateCancelled returns when the caller's context
// ends, whatever the shared read is doing.
func TestTokenService_AuthenticateCancelled(t *testing.T) {
	db, _ := MustOpenDB(t)
	s := sqlite.NewTokenService(db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Authenticate(ctx, canasta.NewTokenSecret())
	if err == nil || (!errors.Is(err, context.Canceled) && canasta.ErrorCode(err) != canasta.EUNAUTHORIZED) {
		t.Fatalf("cancelled: %v, want the context's error or EUNAUTHORIZED", err)
	}
}
