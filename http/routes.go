package http

import (
	"net/http"
	"slices"

	"github.com/canasta/canasta"
)

// access says who may call a route: anyone, authenticated staff whose
// role is listed, or a person signed in to the portal.
type access struct {
	public    bool
	household bool
	roles     []canasta.Role
}

// public routes serve data that is published anyway, such as programs.
var public = access{public: true}

// household routes serve a person signed in to the portal, and reach only
// the household of their session.
var household = access{household: true}

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
		{"POST", "/api/v1/households/{id}/corrections", staff(admin, registrar), s.handleCorrectHousehold},
		{"GET", "/api/v1/households/{id}/corrections", staff(admin, registrar, auditor), s.handleFindCorrections},

		{"GET", "/api/v1/dedup/cases", staff(admin, registrar), s.handleFindDedupCases},
		{"GET", "/api/v1/dedup/cases/{id}", staff(admin, registrar), s.handleFindDedupCase},
		{"POST", "/api/v1/dedup/cases/{id}/confirm", staff(admin, registrar), s.handleDecideDedupCase(confirmDedupCase)},
		{"POST", "/api/v1/dedup/cases/{id}/dismiss", staff(admin, registrar), s.handleDecideDedupCase(dismissDedupCase)},
		{"POST", "/api/v1/dedup/cases/{id}/undo", staff(admin, registrar), s.handleDecideDedupCase(undoDedupCase)},

		{"GET", "/api/v1/grievances", staff(admin, registrar, auditor), s.handleFindGrievances},
		{"GET", "/api/v1/grievances/{id}", staff(admin, registrar, auditor), s.handleFindGrievance},
		{"POST", "/api/v1/grievances/{id}/assign", staff(admin, registrar), s.handleAssignGrievance},
		{"POST", "/api/v1/grievances/{id}/answer", staff(admin, registrar), s.handleAnswerGrievance},
		{"POST", "/api/v1/grievances/{id}/close", staff(admin, registrar), s.handleCloseGrievance},

		{"POST", "/api/v1/attributes", staff(admin), s.handleCreateAttribute},
		{"GET", "/api/v1/attributes", public, s.handleFindAttributes},

		{"POST", "/api/v1/programs", staff(admin), s.handleCreateProgram},
		{"GET", "/api/v1/programs", public, s.handleFindPrograms},
		{"GET", "/api/v1/programs/{id}", public, s.handleFindProgram},
		{"POST", "/api/v1/programs/{id}/dry-run", staff(admin), s.handleDryRun},

		{"POST", "/api/v1/points", staff(admin), s.handleCreatePoint},
		{"GET", "/api/v1/points", staff(admin, registrar, operator, auditor), s.handleFindPoints},
		{"POST", "/api/v1/points/{id}/devices", staff(admin), s.handleCreateDevice},
		{"GET", "/api/v1/points/{id}/devices", staff(admin, auditor), s.handleFindDevices},
		{"GET", "/api/v1/points/{id}/losses", staff(admin, auditor), s.handleFindLosses},
		{"POST", "/api/v1/devices/{id}/revoke", staff(admin), s.handleRevokeDevice},
		{"POST", "/api/v1/devices/{id}/receipts", staff(admin), s.handleUploadReceipts},
		{"PUT", "/api/v1/households/{id}/home-point", staff(admin, registrar), s.handleSetHomePoint},
		// The token or the device's signature is the credential of these.
		{"POST", "/api/v1/devices/enroll", public, s.handleEnrollDevice},
		{"GET", "/api/v1/device", public, s.device(s.handleDeviceSelf)},
		{"POST", "/api/v1/device/sync", public, s.device(s.handleDeviceSync)},
		{"POST", "/api/v1/device/rights", public, s.device(s.handleDeviceRights)},

		{"POST", "/api/v1/cycles", staff(admin), s.handleRunCycle},

		{"POST", "/api/v1/households/{id}/cards", staff(admin, registrar), s.handleIssueCard},
		{"GET", "/api/v1/cards/{file}", staff(admin, registrar), s.handleCardFile},
		{"POST", "/api/v1/cards/{card_id}/revoke", staff(admin, registrar), s.handleRevokeCard},
		{"GET", "/api/v1/cards/check", staff(admin, operator), s.handleCheckCard},
		{"GET", "/api/v1/cards/keys", public, s.handleCardKeys},
		{"GET", "/api/v1/cards/revocations", public, s.handleCardRevocations},

		{"POST", "/api/v1/redemptions", staff(admin, operator), s.handleRedeem},
		{"GET", "/api/v1/redemptions/{request_id}", staff(admin, operator, auditor), s.handleFindRedemption},

		{"GET", "/api/v1/reports/redemptions-per-day", staff(admin, auditor), s.reportHandler("redemptions-per-day")},
		{"GET", "/api/v1/reports/uptake", staff(admin, auditor), s.reportHandler("uptake")},
		{"GET", "/api/v1/reports/unused", staff(admin, auditor), s.reportHandler("unused")},
		{"GET", "/api/v1/reports/unusual-points", staff(admin, auditor), s.reportHandler("unusual-points")},
		{"GET", "/api/v1/reports/{file}", staff(admin, auditor), s.handleReportFile},

		{"GET", "/api/v1/audit/checkpoint", public, s.handleAuditCheckpoint},
		{"GET", "/api/v1/audit/key", public, s.handleAuditKey},
		{"GET", "/api/v1/audit/entries", public, s.handleAuditEntries},
		{"GET", "/api/v1/audit/entries/{index}", public, s.handleAuditEntry},
		{"GET", "/api/v1/audit/proof/{index}", public, s.handleAuditProof},
		{"GET", "/api/v1/audit/consistency", public, s.handleAuditConsistency},

		{"POST", "/api/v1/portal/login", public, s.handlePortalLogin},
		{"POST", "/api/v1/portal/logout", household, s.handlePortalLogout},
		{"GET", "/api/v1/portal/me", household, s.handlePortalMe},
		{"GET", "/api/v1/portal/me/entitlements", household, s.handlePortalEntitlements},
		{"GET", "/api/v1/portal/me/redemptions", household, s.handlePortalRedemptions},
		{"GET", "/api/v1/portal/me/redemptions/{request_id}", household, s.handlePortalRedemption},
		{"GET", "/api/v1/portal/me/access-log", household, s.handlePortalAccessLog},
		{"GET", "/api/v1/portal/me/corrections", household, s.handlePortalCorrections},
		{"GET", "/api/v1/portal/me/notices", household, s.handlePortalNotices},
		{"GET", "/api/v1/portal/me/export", household, s.handlePortalExport},
		{"POST", "/api/v1/portal/grievances", household, s.handlePortalFileGrievance},
		{"GET", "/api/v1/portal/grievances", household, s.handlePortalGrievances},
		{"GET", "/api/v1/portal/grievances/{id}", household, s.handlePortalGrievance},

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
		if !rt.access.public && !rt.access.household && len(rt.access.roles) == 0 {
			panic("http: route " + rt.method + " " + rt.pattern + " admits no one")
		}
		mux.Handle(rt.method+" "+rt.pattern, s.guard(rt))
	}
	s.registerWeb(mux)
	mux.HandleFunc("/", s.handleNoRoute)
	return mux
}

// guard authenticates and authorises a request for its route before the
// handler runs, and answers the handler's error.
func (s *Server) guard(rt route) http.Handler {
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFromContext(r.Context()).route = name
		if rt.access.household {
			ps, err := s.authenticatePortal(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(canasta.NewContextWithPortalSession(r.Context(), ps))
		} else if !rt.access.public {
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
