package http

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// The web application serves server-rendered pages for staff and for the
// people served, on the same mux as the API. Pages use cookie sessions,
// never bearer tokens, and every form carries a CSRF token. It is on when
// the server has a UserService; an API-only server answers its paths with
// the API's 404.

// StaffLoginsPerMinute bounds staff sign-in attempts from one address.
const StaffLoginsPerMinute = 20

// Cookie names.
const (
	sessionCookie = "canasta_session"
	csrfCookie    = "canasta_csrf"
	langCookie    = "canasta_lang"
	csrfField     = "csrf"
)

// webApp is the web application's state, built once with the router.
type webApp struct {
	pages    *pageSet
	sessions *sessionStore
	// csrfKey signs CSRF tokens; it is new at each start, like sessions.
	csrfKey []byte
	static  fs.FS
	cycles  cycleJobs
	// logins bounds staff sign-in attempts per client address; argon2id
	// makes each one costly for the server too.
	logins *attemptLimiter
}

func newWebApp() *webApp {
	pages, err := loadPages()
	if err != nil {
		// The templates are embedded: a bad one is a build defect, found
		// by the first test or start, never by a user.
		panic("http: web templates: " + err.Error())
	}
	static, err := fs.Sub(htmlFS, "html/static")
	if err != nil {
		panic("http: web assets: " + err.Error())
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &webApp{pages: pages, sessions: newSessionStore(), csrfKey: key, static: static,
		logins: newAttemptLimiter(StaffLoginsPerMinute, time.Minute)}
}

// webRoute is one row of the web application's policy table. Staff pages
// name the roles they admit; person pages need a card session.
type webRoute struct {
	method  string
	pattern string
	access  webAccess
	handle  func(w http.ResponseWriter, r *http.Request) error
}

// webAccess says who may open a page.
type webAccess struct {
	anyone bool
	person bool
	roles  []canasta.Role
}

var (
	webPublic = webAccess{anyone: true}
	webPerson = webAccess{person: true}
)

func webStaff(roles ...canasta.Role) webAccess { return webAccess{roles: roles} }

// registerWeb adds the web application's routes to mux.
func (s *Server) registerWeb(mux *http.ServeMux) {
	if s.web == nil {
		s.web = newWebApp()
	}
	mux.HandleFunc("GET /static/{file...}", s.handleStatic)
	for _, rt := range s.webRoutes() {
		if !rt.access.anyone && !rt.access.person && len(rt.access.roles) == 0 {
			panic("http: page " + rt.method + " " + rt.pattern + " admits no one")
		}
		mux.Handle(rt.method+" "+rt.pattern, s.webGuard(rt))
	}
}

// webRoutes is the web application's policy table.
func (s *Server) webRoutes() []webRoute {
	const (
		admin     = canasta.RoleAdmin
		registrar = canasta.RoleRegistrar
		operator  = canasta.RoleOperator
		auditor   = canasta.RoleAuditor
	)
	return []webRoute{
		{"GET", "/{$}", webPublic, s.handleLanding},
		{"POST", "/lang", webPublic, s.handleSetLanguage},
		{"GET", "/login", webPublic, s.handleLoginPage},
		{"POST", "/login", webPublic, s.handleLogin},
		{"POST", "/logout", webPublic, s.handleLogout},
		{"GET", "/staff", webStaff(admin, registrar, operator, auditor), s.handleStaffHome},

		{"GET", "/point", webStaff(admin, operator), s.handlePointPage},
		{"POST", "/point/place", webStaff(admin, operator), s.handlePointPlace},
		{"POST", "/point/check", webStaff(admin, operator), s.handlePointCheck},
		{"POST", "/point/redeem", webStaff(admin, operator), s.handlePointRedeem},
		{"GET", "/point/receipts/{request_id}", webStaff(admin, operator), s.handlePointReceipt},

		{"GET", "/registrar", webStaff(admin, registrar), s.handleRegistrarPage},
		{"POST", "/registrar/search", webStaff(admin, registrar), s.handleRegistrarSearch},
		{"GET", "/registrar/households/{id}", webStaff(admin, registrar), s.handleRegistrarHousehold},
		{"GET", "/registrar/households/{id}/correct", webStaff(admin, registrar), s.handleCorrectPage},
		{"POST", "/registrar/households/{id}/correct", webStaff(admin, registrar), s.handleCorrect},
		{"GET", "/registrar/enroll", webStaff(admin, registrar), s.handleEnrollPage},
		{"POST", "/registrar/enroll", webStaff(admin, registrar), s.handleEnroll},
		{"POST", "/registrar/households/{id}/cards", webStaff(admin, registrar), s.handleWebIssueCard},
		{"POST", "/registrar/cards/{card_id}/revoke", webStaff(admin, registrar), s.handleWebRevokeCard},
		{"GET", "/registrar/cards/{file}", webStaff(admin, registrar), s.handleWebCardFile},
		{"GET", "/registrar/duplicates", webStaff(admin, registrar), s.handleDedupPage},
		{"POST", "/registrar/duplicates", webStaff(admin, registrar), s.handleDedupList},
		{"POST", "/registrar/duplicates/{id}", webStaff(admin, registrar), s.handleDedupDecide},

		{"GET", "/officer", webStaff(admin), s.handleOfficerPage},
		{"POST", "/officer/attributes", webStaff(admin), s.handleWebCreateAttribute},
		{"POST", "/officer/programs", webStaff(admin), s.handleWebCreateProgram},
		{"GET", "/officer/programs/{id}", webStaff(admin), s.handleOfficerProgram},
		{"POST", "/officer/programs/{id}/dry-run", webStaff(admin), s.handleWebDryRun},
		{"POST", "/officer/programs/{id}/publish", webStaff(admin), s.handleWebPublishChange},
		{"POST", "/officer/cycles", webStaff(admin), s.handleWebRunCycle},
		{"GET", "/officer/cycles/{id}", webStaff(admin), s.handleWebCycle},

		{"GET", "/auditor", webStaff(admin, auditor), s.handleAuditorPage},
		{"GET", "/auditor/access", webStaff(admin, auditor), s.handleAuditorAccessPage},
		{"POST", "/auditor/access", webStaff(admin, auditor), s.handleAuditorAccessSearch},
		{"GET", "/auditor/reports/{file}", webStaff(admin, auditor), s.handleAuditorReport},

		{"GET", "/portal/login", webPublic, s.handlePortalLoginPage},
		{"POST", "/portal/login", webPublic, s.handleWebPortalLogin},
		{"GET", "/portal", webPerson, s.handlePortalHome},
		{"GET", "/portal/export", webPerson, s.handleWebPortalExport},
		{"POST", "/portal/grievances", webPerson, s.handleWebPortalGrievance},
		{"GET", "/portal/grievances/{id}", webPerson, s.handleWebPortalGrievanceView},
	}
}

// webRequest is what the guard learned about a request, for handlers and
// templates.
type webRequest struct {
	lang    string
	csrf    string // the token forms must carry
	session *session
	secret  string // the session cookie's value
	notice  string // a message key shown above the page, such as an expiry
}

type webContextKey struct{}

func webFromRequest(r *http.Request) *webRequest {
	wr, _ := r.Context().Value(webContextKey{}).(*webRequest)
	if wr == nil {
		return &webRequest{lang: Languages[0]}
	}
	return wr
}

// webGuard resolves language, session and CSRF token, then admits the
// request to the page or answers with a sign-in redirect or a 403 page.
func (s *Server) webGuard(rt webRoute) http.Handler {
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFromContext(r.Context()).route = name
		if s.UserService == nil {
			s.handleNoRoute(w, r)
			return
		}
		wr := &webRequest{lang: requestLanguage(r)}
		r = r.WithContext(contextWithWeb(r.Context(), wr))
		wr.csrf = s.csrfToken(w, r)

		if c, err := r.Cookie(sessionCookie); err == nil {
			sess, err := s.web.sessions.touch(c.Value, s.now(), s.Web)
			if err != nil {
				wr.notice = "session.expired"
				s.clearCookie(w, r, sessionCookie)
			} else if sess != nil {
				wr.session, wr.secret = sess, c.Value
			}
		}
		if sess := wr.session; sess != nil && sess.UserID != 0 {
			// An account disabled since sign-in ends its sessions now.
			u, err := s.UserService.FindUserByID(r.Context(), sess.UserID)
			if canasta.ErrorCode(err) == canasta.EINTERNAL {
				s.webError(w, r, fmt.Errorf("load session user: %w", err))
				return
			}
			if err != nil || u.DisabledAt != nil || u.Role != sess.Role {
				s.web.sessions.delete(wr.secret)
				s.clearCookie(w, r, sessionCookie)
				wr.session, wr.secret = nil, ""
			} else {
				r = r.WithContext(canasta.NewContextWithActor(r.Context(), u.Actor()))
			}
		}

		if r.Method == http.MethodPost {
			if err := s.checkCSRF(r); err != nil {
				s.webError(w, r, err)
				return
			}
		}
		switch {
		case rt.access.anyone:
		case rt.access.person:
			if wr.session == nil || wr.session.CardID == "" {
				http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
				return
			}
		default:
			if wr.session == nil || wr.session.UserID == 0 {
				target := "/login"
				if r.Method == http.MethodGet {
					target += "?next=" + url.QueryEscape(r.URL.RequestURI())
				}
				if wr.notice != "" {
					target = addQuery(target, "expired", "1")
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			if !webAdmits(rt.access, wr.session.Role) {
				s.webError(w, r, canasta.Errorf(canasta.EFORBIDDEN, "The %s role may not open this page.", wr.session.Role))
				return
			}
		}
		if err := rt.handle(w, r); err != nil {
			s.webError(w, r, err)
		}
	})
}

func webAdmits(a webAccess, role canasta.Role) bool {
	for _, r := range a.roles {
		if r == role {
			return true
		}
	}
	return false
}

func addQuery(target, k, v string) string {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + k + "=" + url.QueryEscape(v)
}

// requestLanguage picks the language from the switch's cookie, else from
// Accept-Language, else the default.
func requestLanguage(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && supportedLanguage(c.Value) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if supportedLanguage(base) {
			return base
		}
	}
	return Languages[0]
}

func supportedLanguage(l string) bool {
	for _, x := range Languages {
		if l == x {
			return true
		}
	}
	return false
}

// csrfToken returns the token this browser's forms must carry: an HMAC of
// a random per-browser cookie under the server's key. A forged page on
// another site can neither read the cookie nor compute the token, and a
// cookie planted by a sibling domain is useless without the key.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	value := ""
	if err == nil && len(c.Value) == 43 {
		value = c.Value
	} else {
		value = newSecret()
		s.setCookie(w, r, csrfCookie, value, 0)
		// Handlers that render in this request see the new cookie too.
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: value})
	}
	mac := hmac.New(sha256.New, s.web.csrfKey)
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// errCSRF is the answer to a form without a valid token.
var errCSRF = canasta.Errorf(canasta.EFORBIDDEN, "This form has expired or did not come from this site. Go back, reload the page and try again.")

// checkCSRF requires the form's token to match this browser's cookie and,
// when the browser says where the form came from, that it came from here.
func (s *Server) checkCSRF(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return errCSRF
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxBodySize)
	if err := r.ParseForm(); err != nil {
		return canasta.Errorf(canasta.EINVALID, "The form could not be read.")
	}
	if _, err := r.Cookie(csrfCookie); err != nil {
		return errCSRF
	}
	want := webFromRequest(r).csrf
	got := r.PostForm.Get(csrfField)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site,
// Secure over TLS or when configured. maxAge 0 makes a browser-session
// cookie.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil || s.Web.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	s.setCookie(w, r, name, "", -1)
}

// page is what every template receives.
type page struct {
	Lang    string
	CSRF    string
	Path    string
	User    *session // nil when nobody is signed in
	Notice  string   // message key
	Title   string   // message key of the page title
	Data    any
	Refresh int // seconds after which the page reloads itself; 0 for never
}

// render writes a page with the layout. Pages may hold personal data, so
// no cache keeps them, and the policy allows only this site's scripts.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	s.renderRefresh(w, r, status, name, title, data, 0)
}

// renderRefresh renders a page that reloads itself every refresh seconds
// (none when 0), for progress without JavaScript.
func (s *Server) renderRefresh(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, refresh int) {
	wr := webFromRequest(r)
	p := page{Lang: wr.lang, CSRF: wr.csrf, Path: r.URL.Path, User: wr.session, Notice: wr.notice, Title: title, Data: data, Refresh: refresh}
	b, err := s.web.pages.execute(wr.lang, name, p)
	if err != nil {
		s.requestLogger(r).Error("render page", "page", name, "err", err)
		http.Error(w, internalMessage, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", wr.lang)
	h.Set("Cache-Control", "no-store")
	setPageSecurityHeaders(h)
	w.WriteHeader(status)
	w.Write(b)
}

func setPageSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
}

// errorPage is the data of the error page.
type errorPage struct {
	Status      int
	Code        string
	Text        string
	Unavailable bool
}

// webError answers a page's error with the error page: the application
// error's message, or for anything else a generic one while the cause
// goes to the log; an unreachable store is a 503 that says to retry.
func (s *Server) webError(w http.ResponseWriter, r *http.Request, err error) {
	code, text := canasta.ErrorCode(err), canasta.ErrorMessage(err)
	status := ErrorStatusCode(code)
	ep := errorPage{Code: code, Text: text}
	if code == canasta.EINTERNAL {
		s.requestLogger(r).Error("internal error", "route", stateFromContext(r.Context()).route, "err", err)
		ep.Text = s.web.pages.message(webFromRequest(r).lang, "error.internal")
		if errors.Is(err, canasta.ErrUnavailable) {
			status, ep.Unavailable = http.StatusServiceUnavailable, true
			ep.Text = s.web.pages.message(webFromRequest(r).lang, "error.unavailable")
			w.Header().Set("Retry-After", "5")
		}
	}
	ep.Status = status
	s.render(w, r, status, "error", "error.title", ep)
}

// handleStatic serves the embedded assets. Their URLs carry a digest of
// the content, so browsers may keep them.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	stateFromContext(r.Context()).route = "GET /static/{file...}"
	if s.UserService == nil {
		s.handleNoRoute(w, r)
		return
	}
	name := r.PathValue("file")
	if _, ok := s.web.pages.assetVersion[name]; !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, s.web.static, name)
}

// localPath returns next if it is a path on this site, else fallback, so
// a sign-in link cannot send anyone elsewhere.
func localPath(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	return next
}

func contextWithWeb(ctx context.Context, wr *webRequest) context.Context {
	return context.WithValue(ctx, webContextKey{}, wr)
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
