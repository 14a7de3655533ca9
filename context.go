package canasta

import "context"

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
	TokenID int64
	Name    string
	Role    Role
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
