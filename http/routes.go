package http

import (
	"net/http"
	"slices"

	"github.com/canasta/canasta"
)

// access says who may call a route: anyone, or authenticated staff whose
// role is listed.
type access struct {
	public bool
	roles  []canasta.Role
}

// public routes serve data that is published anyway, such as programs.
var public = access{public: true}

// staff admits authenticated callers with one of the roles.
func staff(roles ...canasta.Role) access { return access{roles: roles} }

func (a access) admits(r canasta.Role) bool { return slices.Contains(a.roles, r) }

// route is one row of the policy table.
type route struct {
	method  string
	pattern string
	access  access
	handle  func(w http.ResponseWriter, r *http.Request) error
}

// routes is the policy table: every route the API serves and who may call
// it. The mux is built from this table alone, so a route or method not
// listed here does not exist.
func (s *Server) routes() []route {
	const (
		admin     = canasta.RoleAdmin
		registrar = canasta.RoleRegistrar
		operator  = canasta.RoleOperator
		auditor   = canasta.RoleAuditor
	)
	return []route{
		{"GET", "/healthz", public, s.handleHealth},

		{"POST", "/api/v1/households", staff(admin, registrar), s.handleCreateHousehold},
		{"GET", "/api/v1/households", staff(admin, registrar, auditor), s.handleFindHouseholdBySourceID},
		{"GET", "/api/v1/households/{id}", staff(admin, registrar, auditor), s.handleFindHousehold},
		{"GET", "/api/v1/households/{id}/entitlements", staff(admin, registrar, operator, auditor), s.handleFindEntitlements},
		{"GET", "/api/v1/households/{id}/access-log", staff(admin, auditor), s.handleFindAccessEvents},

		{"POST", "/api/v1/attributes", staff(admin), s.handleCreateAttribute},
		{"GET", "/api/v1/attributes", public, s.handleFindAttributes},

		{"POST", "/api/v1/programs", staff(admin), s.handleCreateProgram},
		{"GET", "/api/v1/programs", public, s.handleFindPrograms},
		{"GET", "/api/v1/programs/{id}", public, s.handleFindProgram},

		{"POST", "/api/v1/points", staff(admin), s.handleCreatePoint},
		{"GET", "/api/v1/points", staff(admin, registrar, operator, auditor), s.handleFindPoints},

		{"POST", "/api/v1/cycles", staff(admin), s.handleRunCycle},

		{"POST", "/api/v1/households/{id}/cards", staff(admin, registrar), s.handleIssueCard},
		{"GET", "/api/v1/cards/{file}", staff(admin, registrar), s.handleCardFile},
		{"POST", "/api/v1/cards/{card_id}/revoke", staff(admin, registrar), s.handleRevokeCard},
		{"GET", "/api/v1/cards/check", staff(admin, operator), s.handleCheckCard},
		{"GET", "/api/v1/cards/keys", public, s.handleCardKeys},
		{"GET", "/api/v1/cards/revocations", public, s.handleCardRevocations},

		{"POST", "/api/v1/redemptions", staff(admin, operator), s.handleRedeem},
		{"GET", "/api/v1/redemptions/{request_id}", staff(admin, operator, auditor), s.handleFindRedemption},

		{"POST", "/api/v1/tokens", staff(admin), s.handleCreateToken},
		{"GET", "/api/v1/tokens", staff(admin), s.handleFindTokens},
		{"POST", "/api/v1/tokens/{id}/revoke", staff(admin), s.handleRevokeToken},
	}
}

// router registers the policy table on a mux. Everything else, including a
// listed path with an unlisted method, falls to a JSON 404.
func (s *Server) router() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if !rt.access.public && len(rt.access.roles) == 0 {
			panic("http: route " + rt.method + " " + rt.pattern + " admits no one")
		}
		mux.Handle(rt.method+" "+rt.pattern, s.guard(rt))
	}
	mux.HandleFunc("/", s.handleNoRoute)
	return mux
}

// guard authenticates and authorises a request for its route before the
// handler runs, and answers the handler's error.
func (s *Server) guard(rt route) http.Handler {
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFromContext(r.Context()).route = name
		if !rt.access.public {
			actor, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if !rt.access.admits(actor.Role) {
				s.writeError(w, r, canasta.Errorf(canasta.EFORBIDDEN, "The %s role may not call %s.", actor.Role, name))
				return
			}
			r = r.WithContext(canasta.NewContextWithActor(r.Context(), actor))
		}
		if err := rt.handle(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, canasta.Errorf(canasta.ENOTFOUND, "There is no %s %s in this API.", r.Method, r.URL.Path))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
