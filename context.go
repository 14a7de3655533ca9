package canasta

import (
	"context"
	"strconv"
)

// Role is what a staff token may do. Each API route names the roles it
// admits; a role not named is refused.
type Role string

const (
	RoleAdmin     Role = "admin"
	RoleRegistrar Role = "registrar"
	RoleOperator  Role = "operator"
	RoleAuditor   Role = "auditor"
)

// Roles lists every role, in the order shown to users.
var Roles = []Role{RoleAdmin, RoleRegistrar, RoleOperator, RoleAuditor}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Actor is the authenticated caller of a service method.
type Actor struct {
	// TokenID is the API token used, or 0 for a web session.
	TokenID int64
	// UserID is the staff account of a web session, or 0.
	UserID int64
	Name   string
	Role   Role
}

// AuditID identifies the actor in audit entries without naming a person:
// the id of the credential used, never the staff member's name.
func (a *Actor) AuditID() string {
	switch {
	case a.TokenID != 0:
		return "token:" + strconv.FormatInt(a.TokenID, 10)
	case a.UserID != 0:
		return "user:" + strconv.FormatInt(a.UserID, 10)
	}
	return ""
}

type contextKey int

const (
	actorContextKey contextKey = iota + 1
	purposeContextKey
)

// NewContextWithActor returns a copy of ctx carrying the actor.
func NewContextWithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorContextKey, a)
}

// ActorFromContext returns the actor in ctx, or nil for an anonymous call.
func ActorFromContext(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorContextKey).(*Actor)
	return a
}

// NewContextWithPurpose returns a copy of ctx carrying the stated purpose
// of a read of personal data.
func NewContextWithPurpose(ctx context.Context, p Purpose) context.Context {
	return context.WithValue(ctx, purposeContextKey, p)
}

// PurposeFromContext returns the purpose stated for the call, or "".
func PurposeFromContext(ctx context.Context) Purpose {
	p, _ := ctx.Value(purposeContextKey).(Purpose)
	return p
}
