package http_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/sqlite"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts one headless Chromium for a test; each flow opens its
// own tab in it. Without Chromium the test is skipped, except in CI,
// where it must run.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		} else {
			t.Skipf("chromium not installed: %v", err)
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Screenshots show the page at the full viewport width.
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// tab opens a new tab with its own cookies, as a separate device would
// have, whose actions time out.
func tab(t *testing.T, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Open the tab before bounding it, so the timeout covers actions only.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	return ctx
}

func signIn(base, username string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SetValue(chromedp.CSS("#username"), username),
		chromedp.SetValue(chromedp.CSS("#password"), webPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("header .tools button.link")),
	)
}

func TestWebBrowser(t *testing.T) {
	browser := newBrowser(t)
	wps := newWebPortalServer(t)
	ws := wps.webServer
	ws.db.Dedup = dedup.NewMatcher()
	ws.DedupService = sqlite.NewDedupService(ws.db)
	base := ws.URL()
	ic := wps.ps.a

	t.Run("OperatorRedeems", func(t *testing.T) {
		ctx := tab(t, browser, 20*time.Second)
		err := chromedp.Do(ctx,
			signIn(base, "operator"),
			chromedp.WaitVisible(chromedp.CSS("#point_id")),
			chromedp.Click(chromedp.CSS(`form[action="/point/place"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#code")),
			// Paste the code, as from a scanner app or the card's text.
			chromedp.SetValue(chromedp.CSS("#code"), ic.Code),
			chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#redeem-form")),
		)
		if err != nil {
			t.Fatal(err)
		}
		before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#remaining-"+itoa(ws.l.rice))))
		if err != nil || before != "4 kg" {
			t.Fatalf("rice remaining %q (%v), want 4 kg", before, err)
		}
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#qty_"+itoa(ws.l.rice)), "1000"),
			chromedp.Click(chromedp.CSS(`#redeem-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#receipt-id")),
		)
		if err != nil {
			t.Fatal(err)
		}
		after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("td.remaining")))
		if err != nil || after != "3 kg" {
			t.Fatalf("receipt shows %q left (%v), want 3 kg", after, err)
		}
		id, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#receipt-id")))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ws.RedemptionService.FindRedemptionByRequestID(context.Background(), id)
		if err != nil || len(rec.Items) != 1 || rec.Items[0].Quantity != 1000 {
			t.Fatalf("stored receipt %+v (%v)", rec, err)
		}
		// Going back and submitting the same form again redeems nothing more.
		err = chromedp.Do(ctx,
			chromedp.NavigateBack(),
			chromedp.WaitVisible(chromedp.CSS("#redeem-form")),
		)
		if err == nil {
			_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#redeem-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#receipt-id")))
		}
		es, err := ws.EntitlementService.FindEntitlements(context.Background(), ws.l.household, testPeriod)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.ProgramID == ws.l.rice && e.Remaining != 3000 {
				t.Fatalf("rice remaining %d after resubmitting, want 3000", e.Remaining)
			}
		}
	})

	t.Run("RegistrarEnrollsWithDuplicateWarning", func(t *testing.T) {
		ctx := tab(t, browser, 30*time.Second)
		enrol := func(given string) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.Navigate(base+"/registrar/enroll"),
				chromedp.WaitVisible(chromedp.CSS("#region")),
				chromedp.SetValue(chromedp.CSS("#region"), "north"),
				chromedp.SetValue(chromedp.CSS("#line"), "4 Avenida Grau"),
				chromedp.SetValue(chromedp.CSS("#income"), "700"),
				chromedp.SetValue(chromedp.CSS("#attr_dependents"), "1"),
				chromedp.SetValue(chromedp.CSS("#m0_given"), given),
				chromedp.SetValue(chromedp.CSS("#m0_family"), "Huaman Ccori"),
				chromedp.SetValue(chromedp.CSS("#m0_birth"), "1990-05-06"),
				chromedp.SetValue(chromedp.CSS("#m0_nid"), "45678912"),
				chromedp.Click(chromedp.CSS(`button[value=save]`)),
				chromedp.WaitVisible(chromedp.CSS("#household-id")),
			)
		}
		if err := chromedp.Do(ctx, signIn(base, "registrar"), enrol("Wayra")); err != nil {
			t.Fatal(err)
		}
		notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#notice")))
		if err != nil || !strings.Contains(notice, "registered") {
			t.Fatalf("notice %q (%v)", notice, err)
		}
		first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#household-id")))
		if err != nil {
			t.Fatal(err)
		}
		// Typing the same person again shows the candidate at once.
		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/registrar/enroll"),
			chromedp.WaitVisible(chromedp.CSS("#m0_given")),
			chromedp.SendKeys(chromedp.CSS("#m0_given"), "Wayra"),
			chromedp.SendKeys(chromedp.CSS("#m0_family"), "Huaman Ccori"),
			chromedp.SendKeys(chromedp.CSS("#m0_birth"), "1990-05-06"),
			chromedp.SendKeys(chromedp.CSS("#m0_nid"), "45678912"),
			chromedp.WaitVisible(chromedp.CSS("#dup-live #duplicates")),
		)
		if err != nil {
			t.Fatalf("no live duplicate candidates: %v", err)
		}
		// The same person enrolled again is flagged on the new record.
		if err := chromedp.Do(ctx, enrol("Wayra Luz"), chromedp.WaitVisible(chromedp.CSS("#duplicates"))); err != nil {
			t.Fatalf("no duplicate warning: %v", err)
		}
		warning, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#duplicates")))
		if err != nil || !strings.Contains(warning, first) {
			t.Fatalf("duplicate warning %q (%v) does not name %s", warning, err, first)
		}
	})

	t.Run("LiveValidation", func(t *testing.T) {
		ctx := tab(t, browser, 20*time.Second)
		err := chromedp.Do(ctx,
			signIn(base, "registrar"),
			chromedp.Navigate(base+"/registrar/enroll"),
			chromedp.WaitVisible(chromedp.CSS("#income")),
			chromedp.SendKeys(chromedp.CSS("#income"), "lots"),
			chromedp.Focus(chromedp.CSS("#m0_given")),
		)
		if err != nil {
			t.Fatal(err)
		}
		invalid, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("income").getAttribute("aria-invalid")`))
		if err != nil || invalid != "true" {
			t.Fatalf("income aria-invalid = %q (%v) after leaving a bad amount", invalid, err)
		}
	})

	t.Run("PersonSeesRegistrarRead", func(t *testing.T) {
		staff := tab(t, browser, 20*time.Second)
		err := chromedp.Do(staff,
			signIn(base, "registrar"),
			chromedp.Navigate(base+"/registrar"),
			chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SetValue(chromedp.CSS("#q"), ic.CardID),
			chromedp.SetValue(chromedp.CSS("#purpose"), string(canasta.PurposeGrievance)),
			chromedp.Click(chromedp.CSS(`form[action="/registrar/search"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#household-id")),
		)
		if err != nil {
			t.Fatal(err)
		}
		person := tab(t, browser, 20*time.Second)
		err = chromedp.Do(person,
			chromedp.Navigate(base+"/portal/login"),
			chromedp.WaitVisible(chromedp.CSS("#card")),
			chromedp.SetValue(chromedp.CSS("#card"), ic.CardID),
			chromedp.SetValue(chromedp.CSS("#pin"), ic.PIN),
			chromedp.Click(chromedp.CSS(`form[action="/portal/login"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#access-log")),
		)
		if err != nil {
			t.Fatal(err)
		}
		row, err := chromedp.Run(person, chromedp.Text(chromedp.CSS("#access-log tbody tr")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(row, "registrar (registrar)") || !strings.Contains(row, "Grievance") {
			t.Fatalf("newest access row %q, want the registrar's grievance read", row)
		}
	})

	t.Run("OfficerDryRun", func(t *testing.T) {
		ctx := tab(t, browser, 20*time.Second)
		err := chromedp.Do(ctx,
			signIn(base, "admin"),
			chromedp.Navigate(base+"/officer/programs/"+itoa(ws.l.rice)),
			chromedp.WaitVisible(chromedp.CSS("#dry-form")),
			chromedp.SetValue(chromedp.CSS("#eligibility"), "true"),
			chromedp.SetValue(chromedp.CSS("#quantity"), "household.size * 3000"),
			chromedp.SetValue(chromedp.CSS("#period"), testPeriod),
			chromedp.Click(chromedp.CSS(`#dry-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#dry-result")),
		)
		if err != nil {
			t.Fatal(err)
		}
		gain, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#dry-gain")))
		// Every household without rice gains it; the ledger's second
		// household is one.
		if n, cerr := strconv.Atoi(gain); err != nil || cerr != nil || n < 1 {
			t.Fatalf("households gaining %q (%v), want at least 1", gain, err)
		}
	})

	t.Run("Screenshots", func(t *testing.T) {
		dir := os.Getenv("CANASTA_SCREENSHOTS")
		if dir == "" {
			dir = "screenshots"
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx := tab(t, browser, 90*time.Second)
		shoot := func(name string, ready string) {
			t.Helper()
			for _, size := range []struct {
				name          string
				width, height int64
			}{{"phone", 360, 740}, {"desktop", 1280, 800}} {
				var png []byte
				err := chromedp.Do(ctx,
					chromedp.EmulateViewport(size.width, size.height),
					chromedp.WaitVisible(chromedp.CSS(ready)),
					chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
						b, err := chromedp.FullScreenshot(100)(ctx, tg)
						png = b
						return err
					}),
				)
				if err != nil {
					t.Fatalf("screenshot %s: %v", name, err)
				}
				if err := os.WriteFile(filepath.Join(dir, name+"-"+size.name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		steps := []struct {
			name, ready string
			do          chromedp.Action[chromedp.Void]
		}{
			{"landing", "#programs-h", chromedp.Navigate(base + "/")},
			{"login", "#username", chromedp.Navigate(base + "/login")},
			{"point-check", "#redeem-form", chromedp.Steps(signIn(base, "operator"), chromedp.Navigate(base+"/point"),
				chromedp.WaitVisible(chromedp.CSS("#point_id")),
				chromedp.Click(chromedp.CSS(`form[action="/point/place"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#code")),
				chromedp.SetValue(chromedp.CSS("#code"), ic.Code), chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))},
			{"point-receipt", "#receipt-id", chromedp.Steps(chromedp.SetValue(chromedp.CSS("#qty_"+itoa(ws.l.milk)), "500"),
				chromedp.Click(chromedp.CSS(`#redeem-form button[type=submit]`)))},
			{"point-revoked", ".state", chromedp.Steps(chromedp.Navigate(base+"/point"), chromedp.WaitVisible(chromedp.CSS("#code")),
				chromedp.SetValue(chromedp.CSS("#code"), "CN1:FORGED"), chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))},
			{"registrar", "#search-h", chromedp.Steps(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#username")), signIn(base, "registrar"), chromedp.Navigate(base+"/registrar"))},
			{"household", "#household-id", chromedp.Steps(chromedp.Click(chromedp.CSS(`input[value=household]`)),
				chromedp.SetValue(chromedp.CSS("#q"), ws.l.household), chromedp.SetValue(chromedp.CSS("#purpose"), string(canasta.PurposeEligibilityReview)),
				chromedp.Click(chromedp.CSS(`form[action="/registrar/search"] button[type=submit]`)))},
			{"enroll", "#enroll-form", chromedp.Navigate(base + "/registrar/enroll")},
			{"officer", "#programs-h", chromedp.Steps(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#username")), signIn(base, "admin"), chromedp.Navigate(base+"/officer"))},
			{"dry-run", "#dry-result", chromedp.Steps(chromedp.Navigate(base+"/officer/programs/"+itoa(ws.l.rice)),
				chromedp.WaitVisible(chromedp.CSS("#dry-form")), chromedp.SetValue(chromedp.CSS("#eligibility"), "household.size >= 2"),
				chromedp.SetValue(chromedp.CSS("#period"), testPeriod), chromedp.Click(chromedp.CSS(`#dry-form button[type=submit]`)))},
			{"auditor", "#log-h", chromedp.Navigate(base + "/auditor")},
			{"report", "#report-table", chromedp.Navigate(base + "/auditor/reports/unused")},
			{"portal", "#access-h", chromedp.Steps(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.Navigate(base+"/portal/login"),
				chromedp.WaitVisible(chromedp.CSS("#card")), chromedp.SetValue(chromedp.CSS("#card"), ic.CardID),
				chromedp.SetValue(chromedp.CSS("#pin"), ic.PIN), chromedp.Click(chromedp.CSS(`form[action="/portal/login"] button[type=submit]`)))},
		}
		for _, st := range steps {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), st.do); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			shoot(st.name, st.ready)
		}
	})
}
