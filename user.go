package canasta

import (
	"context"
	"regexp"
	"time"
	"unicode/utf8"
)

// User is a staff account for the web application. Staff sign in with a
// username and password; the role is the same one tokens carry, so a page
// admits the roles the matching API route admits.
type User struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// DisabledAt is set when the account may no longer sign in.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// Actor returns the actor a signed-in user acts as. TokenID stays zero:
// the access log names the user by username and role.
func (u *User) Actor() *Actor {
	return &Actor{UserID: u.ID, Name: u.Username, Role: u.Role}
}

// Password limits. A password is hashed with argon2id, whose cost grows
// with neither, but an unbounded one lets a caller make every sign-in slow.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// ValidateNewUser checks a new account's username, role and password
// before anything is hashed or stored.
func ValidateNewUser(username string, role Role, password string) error {
	if !usernameRE.MatchString(username) {
		return Errorf(EINVALID, "A username is 2 to 63 lower-case letters, digits, dots, dashes or underscores, starting with a letter.")
	}
	if !role.Valid() {
		return Errorf(EINVALID, "Unknown role %q: use admin, registrar, operator or auditor.", string(role))
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLength || len(password) > MaxPasswordLength || !utf8.ValidString(password) {
		return Errorf(EINVALID, "A password needs at least %d characters (at most %d bytes).", MinPasswordLength, MaxPasswordLength)
	}
	return nil
}

// UserService keeps staff accounts. Only a hash of each password is
// stored (argon2id); the password itself never leaves the call.
type UserService interface {
	// CreateUser stores a new account. Admins, or the command line.
	// EINVALID for a bad username, role or password (ValidateNewUser);
	// ECONFLICT when the username is taken.
	CreateUser(ctx context.Context, username string, role Role, password string) (*User, error)

	// Authenticate returns the live account with this username and
	// password. EUNAUTHORIZED for an unknown username, a wrong password or
	// a disabled account alike, so a caller learns nothing about which
	// accounts exist.
	Authenticate(ctx context.Context, username, password string) (*User, error)

	// FindUserByID returns an account, disabled ones included. ENOTFOUND.
	FindUserByID(ctx context.Context, id int64) (*User, error)

	// FindUsers lists every account by id, without password hashes.
	FindUsers(ctx context.Context) ([]*User, error)

	// DisableUser stops an account from signing in; sessions already open
	// end at their next request. ENOTFOUND.
	DisableUser(ctx context.Context, id int64) error
}
