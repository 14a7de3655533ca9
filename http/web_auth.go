package http

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/canasta/canasta"
)

// loginPage is the data of the sign-in page.
type loginPage struct {
	Next     string
	Username string
	Failed   bool
	Expired  bool
	Limited  bool
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	wr := webFromRequest(r)
	if wr.session != nil && wr.session.UserID != 0 {
		http.Redirect(w, r, "/staff", http.StatusSeeOther)
		return nil
	}
	q := r.URL.Query()
	s.render(w, r, http.StatusOK, "login", "login.title", loginPage{Next: localPath(q.Get("next"), ""), Expired: q.Get("expired") != ""})
	return nil
}

// handleLogin signs a staff member in. A new session secret is made at
// every sign-in, so a session id planted before it is worthless.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	next := localPath(r.PostForm.Get("next"), "")
	if ok, wait := s.web.logins.allow(r, s.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.render(w, r, http.StatusTooManyRequests, "login", "login.title", loginPage{Next: next, Username: username, Limited: true})
		return nil
	}
	u, err := s.UserService.Authenticate(r.Context(), username, password)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("sign in: %w", err)
	} else if err != nil {
		s.requestLogger(r).Info("sign-in refused")
		s.render(w, r, http.StatusUnauthorized, "login", "login.title", loginPage{Next: next, Username: username, Failed: true})
		return nil
	}
	wr := webFromRequest(r)
	if wr.secret != "" {
		s.web.sessions.delete(wr.secret)
	}
	now := s.now()
	s.web.sessions.sweep(now, s.Web)
	secret := s.web.sessions.create(session{UserID: u.ID, Username: u.Username, Role: u.Role, CreatedAt: now, LastSeen: now})
	s.setCookie(w, r, sessionCookie, secret, 0)
	s.requestLogger(r).Info("signed in", "user_id", u.ID, "role", u.Role)
	if next == "" {
		next = homeFor(u.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// homeFor is where a role lands after signing in.
func homeFor(role canasta.Role) string {
	switch role {
	case canasta.RoleOperator:
		return "/point"
	case canasta.RoleRegistrar:
		return "/registrar"
	}
	return "/staff"
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	wr := webFromRequest(r)
	target := "/login"
	if wr.session != nil && wr.session.CardID != "" {
		target = "/portal/login"
	}
	if wr.session != nil && wr.session.PortalSecret != "" && s.PortalService != nil {
		if err := s.PortalService.Logout(r.Context(), wr.session.PortalSecret); err != nil {
			s.requestLogger(r).Warn("portal logout", "err", err)
		}
	}
	if wr.secret != "" {
		s.web.sessions.delete(wr.secret)
	}
	s.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// handleSetLanguage keeps the chosen language in a cookie for a year and
// returns to the page the switch was on.
func (s *Server) handleSetLanguage(w http.ResponseWriter, r *http.Request) error {
	lang := r.PostForm.Get("lang")
	if !supportedLanguage(lang) {
		return canasta.Errorf(canasta.EINVALID, "Unknown language %q.", lang)
	}
	s.setCookie(w, r, langCookie, lang, 365*24*3600)
	http.Redirect(w, r, localPath(r.PostForm.Get("next"), "/"), http.StatusSeeOther)
	return nil
}

// staffHome lists what the signed-in role can do.
type staffHome struct {
	Role canasta.Role
}

func (s *Server) handleStaffHome(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "staff", "staff.title", staffHome{Role: webFromRequest(r).session.Role})
	return nil
}
