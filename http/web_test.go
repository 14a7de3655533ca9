package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	canastahttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/sqlite"
)

// webPassword is every test account's password.
const webPassword = "a long test password"

// webServer is a card server with the web application on: one staff
// account per role, named after it.
type webServer struct {
	*cardServer
	users *sqlite.UserService
}

func newWebServer(t *testing.T) *webServer {
	t.Helper()
	return withWeb(t, newCardServer(t))
}

// withWeb turns the web application on for a card server.
func withWeb(t *testing.T, cs *cardServer) *webServer {
	t.Helper()
	users := sqlite.NewUserService(cs.db)
	users.Params = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	for _, role := range canasta.Roles {
		if _, err := users.CreateUser(context.Background(), string(role), role, webPassword); err != nil {
			t.Fatal(err)
		}
	}
	cs.Server.Now = cs.clock.Now
	cs.UserService = users
	return &webServer{cardServer: cs, users: users}
}

// browser is an HTTP client with cookies that remembers the last page's
// CSRF token, as a browser's forms would carry it.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
	lang   string
}

func (ws *webServer) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: ws.URL(), client: &http.Client{Jar: jar}}
}

// page is a fetched page: status, final URL and parsed document.
type webPage struct {
	status int
	url    *url.URL
	doc    *goquery.Document
	size   int
	header http.Header
}

func (b *browser) do(req *http.Request) webPage {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		b.t.Fatal(err)
	}
	if tok, ok := doc.Find(`input[name=csrf]`).First().Attr("value"); ok {
		b.csrf = tok
	}
	return webPage{status: resp.StatusCode, url: resp.Request.URL, doc: doc, size: len(body), header: resp.Header}
}

func (b *browser) get(path string) webPage {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form with the CSRF token of the last page.
func (b *browser) post(path string, form url.Values) webPage {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login signs in as the account named after role.
func (b *browser) login(role canasta.Role) webPage {
	b.t.Helper()
	b.get("/login")
	p := b.post("/login", url.Values{"username": {string(role)}, "password": {webPassword}})
	if p.status != http.StatusOK || p.url.Path == "/login" {
		b.t.Fatalf("login as %s: status %d at %s: %s", role, p.status, p.url, text(p.doc.Find("main")))
	}
	return p
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestWebLogin(t *testing.T) {
	ws := newWebServer(t)
	for _, tt := range []struct {
		name     string
		role     canasta.Role
		password string
		wantPath string
	}{
		{"OperatorLandsOnPoint", canasta.RoleOperator, webPassword, "/point"},
		{"RegistrarLandsOnRegistry", canasta.RoleRegistrar, webPassword, "/registrar"},
		{"AuditorLandsOnStaffHome", canasta.RoleAuditor, webPassword, "/staff"},
		{"WrongPassword", canasta.RoleAdmin, webPassword + "x", "/login"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := ws.browser(t)
			b.get("/login")
			p := b.post("/login", url.Values{"username": {string(tt.role)}, "password": {tt.password}})
			if p.url.Path != tt.wantPath {
				t.Fatalf("after sign-in at %s, want %s", p.url.Path, tt.wantPath)
			}
			if tt.wantPath == "/login" {
				if p.status != http.StatusUnauthorized || p.doc.Find("#login-error").Length() != 1 {
					t.Fatalf("wrong password: status %d, error shown %d", p.status, p.doc.Find("#login-error").Length())
				}
				if v, _ := p.doc.Find("#username").Attr("value"); v != string(tt.role) {
					t.Fatalf("username not kept: %q", v)
				}
				return
			}
			if got := text(p.doc.Find("header .tools button.link")); !strings.Contains(got, string(tt.role)) {
				t.Fatalf("header does not name the user: %q", got)
			}
		})
	}

	t.Run("CookieFlags", func(t *testing.T) {
		b := ws.browser(t)
		b.get("/login")
		form := url.Values{"username": {"admin"}, "password": {webPassword}, "csrf": {b.csrf}}
		req, _ := http.NewRequest("POST", b.base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var sc *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "canasta_session" {
				sc = c
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure || len(sc.Value) < 40 {
			t.Fatalf("session cookie = %+v", sc)
		}
	})

	t.Run("LogoutEndsSession", func(t *testing.T) {
		b := ws.browser(t)
		b.login(canasta.RoleOperator)
		old := b.cookie("canasta_session").Value
		p := b.post("/logout", nil)
		if p.url.Path != "/login" {
			t.Fatalf("after logout at %s", p.url.Path)
		}
		// The old session secret no longer works, even if replayed.
		b2 := ws.browser(t)
		u, _ := url.Parse(b2.base)
		b2.client.Jar.SetCookies(u, []*http.Cookie{{Name: "canasta_session", Value: old}})
		if p := b2.get("/point"); p.url.Path != "/login" {
			t.Fatalf("replayed session opened %s", p.url.Path)
		}
	})

	t.Run("NextIsKept", func(t *testing.T) {
		b := ws.browser(t)
		p := b.get("/registrar/enroll")
		if p.url.Path != "/login" || p.url.Query().Get("next") != "/registrar/enroll" {
			t.Fatalf("anonymous enrol page went to %s", p.url)
		}
		next, _ := p.doc.Find(`form[action="/login"] input[name=next]`).Attr("value")
		p = b.post("/login", url.Values{"username": {"registrar"}, "password": {webPassword}, "next": {next}})
		if p.url.Path != "/registrar/enroll" {
			t.Fatalf("after sign-in at %s, want the page asked for", p.url.Path)
		}
	})

	t.Run("DisabledUserIsSignedOut", func(t *testing.T) {
		u, err := ws.users.CreateUser(context.Background(), "temp", canasta.RoleOperator, webPassword)
		if err != nil {
			t.Fatal(err)
		}
		b := ws.browser(t)
		b.get("/login")
		b.post("/login", url.Values{"username": {"temp"}, "password": {webPassword}})
		if p := b.get("/point"); p.url.Path != "/point" {
			t.Fatalf("before disabling at %s", p.url.Path)
		}
		if err := ws.users.DisableUser(context.Background(), u.ID); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/point"); p.url.Path != "/login" {
			t.Fatalf("disabled user still opened %s", p.url.Path)
		}
	})
}

func TestWebCSRF(t *testing.T) {
	ws := newWebServer(t)
	for _, tt := range []struct {
		name   string
		token  func(b *browser) string
		origin string
	}{
		{"Missing", func(*browser) string { return "" }, ""},
		{"Wrong", func(*browser) string { return "AAAA" }, ""},
		{"OtherBrowsersToken", func(*browser) string {
			other := ws.browser(t)
			other.get("/login")
			return other.csrf
		}, ""},
		{"ForeignOrigin", func(b *browser) string { return b.csrf }, "https://evil.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := ws.browser(t)
			b.get("/login")
			form := url.Values{"username": {"admin"}, "password": {webPassword}, "csrf": {tt.token(b)}}
			req, _ := http.NewRequest("POST", b.base+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			p := b.do(req)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", p.status)
			}
			if b.cookie("canasta_session") != nil {
				t.Fatal("a session was opened")
			}
		})
	}
	t.Run("SignedInFormsNeedIt", func(t *testing.T) {
		b := ws.browser(t)
		b.login(canasta.RoleRegistrar)
		p := b.post("/registrar/search", url.Values{"by": {"household"}, "q": {ws.l.household}, "purpose": {"audit"}, "csrf": {"x"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		events, err := sqlite.NewAccessLogService(ws.db).FindAccessEvents(context.Background(), ws.l.household)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 0 {
			t.Fatalf("a refused form read the record: %+v", events[0])
		}
	})
}

func TestWebSessionTimeouts(t *testing.T) {
	ws := newWebServer(t)
	ws.Web = canastahttp.WebConfig{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 2 * time.Hour}
	for _, tt := range []struct {
		name    string
		steps   []time.Duration // clock advances, each followed by a request
		expired bool
	}{
		{"ActiveWithinIdle", []time.Duration{29 * time.Minute, 29 * time.Minute}, false},
		{"Idle", []time.Duration{31 * time.Minute}, true},
		{"BusyPastAbsolute", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws.clock.Set(testNow)
			defer ws.clock.Set(testNow)
			b := ws.browser(t)
			b.login(canasta.RoleOperator)
			var p webPage
			for _, d := range tt.steps {
				ws.clock.Set(ws.clock.Now().Add(d))
				p = b.get("/point")
			}
			if expired := p.url.Path == "/login"; expired != tt.expired {
				t.Fatalf("at %s after %v, want expired=%v", p.url.Path, tt.steps, tt.expired)
			}
			if tt.expired && p.doc.Find(".banner.notice").Length() == 0 {
				t.Fatal("the sign-in page does not say the session ended")
			}
		})
	}
}

func TestWebAccess(t *testing.T) {
	ws := newWebServer(t)
	for _, tt := range []struct {
		name   string
		role   canasta.Role // "" for anonymous
		path   string
		status int
		at     string
	}{
		{"AnonymousLanding", "", "/", http.StatusOK, "/"},
		{"AnonymousPoint", "", "/point", http.StatusOK, "/login"},
		{"AnonymousRegistry", "", "/registrar", http.StatusOK, "/login"},
		{"OperatorRegistry", canasta.RoleOperator, "/registrar", http.StatusForbidden, "/registrar"},
		{"RegistrarPoint", canasta.RoleRegistrar, "/point", http.StatusForbidden, "/point"},
		{"AuditorEnrol", canasta.RoleAuditor, "/registrar/enroll", http.StatusForbidden, "/registrar/enroll"},
		{"AdminPoint", canasta.RoleAdmin, "/point", http.StatusOK, "/point"},
		{"UnknownPage", canasta.RoleAdmin, "/nowhere", http.StatusNotFound, "/nowhere"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := ws.browser(t)
			if tt.role != "" {
				b.login(tt.role)
			}
			p := b.get(tt.path)
			if p.status != tt.status || p.url.Path != tt.at {
				t.Fatalf("GET %s: status %d at %s, want %d at %s", tt.path, p.status, p.url.Path, tt.status, tt.at)
			}
		})
	}
	t.Run("APIOnlyServerServesNoPages", func(t *testing.T) {
		ts := newTestServer(t)
		r := ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/login"})
		if code := r.errorCode(t); code != canasta.ENOTFOUND {
			t.Fatalf("code = %s", code)
		}
	})
	t.Run("APIIgnoresSessions", func(t *testing.T) {
		b := ws.browser(t)
		b.login(canasta.RoleAdmin)
		req, _ := http.NewRequest("GET", b.base+"/api/v1/points", nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API with only a session cookie: %d, want 401", resp.StatusCode)
		}
	})
}

func TestWebPageBasics(t *testing.T) {
	ws := newWebServer(t)
	for _, tt := range []struct {
		name string
		role canasta.Role
		path string
	}{
		{"Landing", "", "/"},
		{"Login", "", "/login"},
		{"Staff", canasta.RoleAdmin, "/staff"},
		{"Point", canasta.RoleOperator, "/point"},
		{"Registry", canasta.RoleRegistrar, "/registrar"},
		{"Enrol", canasta.RoleRegistrar, "/registrar/enroll"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := ws.browser(t)
			if tt.role != "" {
				b.login(tt.role)
			}
			p := b.get(tt.path)
			if p.status != http.StatusOK {
				t.Fatalf("status %d", p.status)
			}
			if p.size > 100<<10 {
				t.Errorf("page is %d bytes, over 100 KB", p.size)
			}
			if lang, _ := p.doc.Find("html").Attr("lang"); lang != "en" {
				t.Errorf("html lang = %q", lang)
			}
			if p.doc.Find(`meta[name=viewport]`).Length() != 1 || p.doc.Find("main#main").Length() != 1 || p.doc.Find(`a.skip[href="#main"]`).Length() != 1 {
				t.Error("layout lacks viewport, main landmark or skip link")
			}
			// Every visible form control has a label.
			p.doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
				id, _ := s.Attr("id")
				if id == "" || p.doc.Find(`label[for="`+id+`"]`).Length() == 0 {
					if s.ParentsFiltered("label").Length() == 0 {
						name, _ := s.Attr("name")
						t.Errorf("control %q has no label", name)
					}
				}
			})
			// Every form that posts carries the CSRF token.
			p.doc.Find(`form[method=post]`).Each(func(_ int, f *goquery.Selection) {
				if v, _ := f.Find(`input[name=csrf]`).Attr("value"); v == "" {
					action, _ := f.Attr("action")
					t.Errorf("form to %s has no CSRF token", action)
				}
			})
			for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
				if p.header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if cc := p.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}
}

func TestWebLanguage(t *testing.T) {
	ws := newWebServer(t)
	t.Run("AcceptLanguage", func(t *testing.T) {
		b := ws.browser(t)
		b.lang = "es-PE,es;q=0.9"
		p := b.get("/login")
		if lang, _ := p.doc.Find("html").Attr("lang"); lang != "es" {
			t.Fatalf("lang = %q", lang)
		}
		if got := text(p.doc.Find("h1")); got != "Acceso del personal" {
			t.Fatalf("h1 = %q", got)
		}
	})
	t.Run("SwitchIsRemembered", func(t *testing.T) {
		b := ws.browser(t)
		b.get("/login")
		p := b.post("/lang", url.Values{"lang": {"es"}, "next": {"/login"}})
		if p.url.Path != "/login" || text(p.doc.Find("h1")) != "Acceso del personal" {
			t.Fatalf("after switch at %s: h1 %q", p.url.Path, text(p.doc.Find("h1")))
		}
		b.lang = "en"
		if p := b.get("/"); text(p.doc.Find("h1").First()) != "Beneficios Canasta" {
			t.Fatalf("switch not kept over Accept-Language: %q", text(p.doc.Find("h1").First()))
		}
		p = b.post("/lang", url.Values{"lang": {"en"}, "next": {"https://evil.example/"}})
		if p.url.Host != strings.TrimPrefix(b.base, "http://") || p.url.Path != "/" {
			t.Fatalf("switch sent the browser to %s", p.url)
		}
	})
}

func TestWebLanding(t *testing.T) {
	ws := newWebServer(t)
	p := ws.browser(t).get("/")
	if n := p.doc.Find("article.program").Length(); n != 2 {
		t.Fatalf("%d programs shown, want 2", n)
	}
	rice := p.doc.Find("#program-" + itoa(ws.l.rice))
	if text(rice.Find("h3")) != "Rice for low incomes" || !strings.Contains(text(rice.Find("code")), "household.size * 2000") {
		t.Fatalf("rice program shows %q", text(rice))
	}
	if got := text(p.doc.Find("table.attributes tbody tr td code")); got != "dependents" {
		t.Fatalf("attributes shown: %q", got)
	}
	if p.doc.Find("#checkpoint").Length() != 0 {
		t.Fatal("a checkpoint is shown by a server without an audit log")
	}
}

func TestWebLoginRateLimit(t *testing.T) {
	ws := newWebServer(t)
	b := ws.browser(t)
	b.get("/login")
	var p webPage
	for range canastahttp.StaffLoginsPerMinute + 1 {
		p = b.post("/login", url.Values{"username": {"admin"}, "password": {"wrong password!!"}})
	}
	if p.status != http.StatusTooManyRequests || p.doc.Find("#login-limited").Length() != 1 {
		t.Fatalf("attempt %d: status %d", canastahttp.StaffLoginsPerMinute+1, p.status)
	}
	// The right password is refused too until the window ends.
	if p := b.post("/login", url.Values{"username": {"admin"}, "password": {webPassword}}); p.url.Path != "/login" {
		t.Fatalf("signed in past the limit: at %s", p.url.Path)
	}
	ws.clock.Set(testNow.Add(2 * time.Minute))
	defer ws.clock.Set(testNow)
	if p := b.post("/login", url.Values{"username": {"admin"}, "password": {webPassword}}); p.url.Path != "/staff" {
		t.Fatalf("after the window: at %s", p.url.Path)
	}
}
