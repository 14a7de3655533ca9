package http

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/canasta/canasta"
)

// Session timeouts by default: a shared phone left on a counter signs its
// user out after half an hour, and no session outlives a working day.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// WebConfig configures the web application's sessions.
type WebConfig struct {
	// IdleTimeout ends a session this long after its last request.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, however busy.
	AbsoluteTimeout time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP requests, for a
	// server behind a proxy that terminates TLS. Requests that arrive over
	// TLS always get Secure cookies.
	SecureCookies bool
}

func (c WebConfig) idle() time.Duration {
	if c.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return c.IdleTimeout
}

func (c WebConfig) absolute() time.Duration {
	if c.AbsoluteTimeout <= 0 {
		return DefaultAbsoluteTimeout
	}
	return c.AbsoluteTimeout
}

// session is one signed-in browser: a staff member (UserID) or a person
// holding a card (CardID). Only the SHA-256 of its secret is kept, so a
// memory dump does not yield usable cookies.
type session struct {
	UserID      int64
	Username    string
	Role        canasta.Role
	CardID      string
	HouseholdID string
	PointID     int64 // the point an operator serves at
	// PortalSecret is the person's portal session, checked with the
	// PortalService on every request.
	PortalSecret string
	// Duplicates are the candidates found when the household
	// DuplicatesFor was enrolled, shown once on its page.
	Duplicates    []*canasta.DuplicateCandidate
	DuplicatesFor string
	CreatedAt     time.Time
	LastSeen      time.Time
}

// sessionStore keeps sessions in memory. A restart signs everyone out,
// which the timeouts make routine anyway.
type sessionStore struct {
	mu       sync.Mutex
	sessions map[[32]byte]*session
}

func newSessionStore() *sessionStore {
	return &sessionStore{sessions: map[[32]byte]*session{}}
}

// newSecret returns 256 random bits, URL-safe.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create stores a copy of sess and returns its secret.
func (st *sessionStore) create(sess session) string {
	secret := newSecret()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sessions[sha256.Sum256([]byte(secret))] = &sess
	return secret
}

// errSessionExpired tells a user why they must sign in again.
var errSessionExpired = canasta.Errorf(canasta.EUNAUTHORIZED, "Your session has ended; sign in again.")

// touch returns a copy of the live session for secret and records the
// request, or nil if there is none. A session past either timeout is
// removed and reported with errSessionExpired.
func (st *sessionStore) touch(secret string, now time.Time, cfg WebConfig) (*session, error) {
	if secret == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(secret))
	st.mu.Lock()
	defer st.mu.Unlock()
	sess, ok := st.sessions[key]
	if !ok {
		return nil, nil
	}
	if now.Sub(sess.LastSeen) > cfg.idle() || now.Sub(sess.CreatedAt) > cfg.absolute() {
		delete(st.sessions, key)
		return nil, errSessionExpired
	}
	sess.LastSeen = now
	cp := *sess
	return &cp, nil
}

// update applies f to the live session for secret.
func (st *sessionStore) update(secret string, f func(*session)) {
	key := sha256.Sum256([]byte(secret))
	st.mu.Lock()
	defer st.mu.Unlock()
	if sess, ok := st.sessions[key]; ok {
		f(sess)
	}
}

func (st *sessionStore) delete(secret string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, sha256.Sum256([]byte(secret)))
}

// sweep removes sessions past either timeout, so abandoned ones do not
// accumulate.
func (st *sessionStore) sweep(now time.Time, cfg WebConfig) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, sess := range st.sessions {
		if now.Sub(sess.LastSeen) > cfg.idle() || now.Sub(sess.CreatedAt) > cfg.absolute() {
			delete(st.sessions, k)
		}
	}
}
