package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/canasta/canasta/synth"
)

// demoPrograms are the programs a demo publishes: plain, need-based rules a
// visitor can read on GET /api/v1/programs. Unknown income (-1) is treated
// as eligible pending review, stated in the rule itself.
var demoPrograms = []canasta.Program{
	{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
		Eligibility: "household.monthly_income == -1 || household.monthly_income < 200000",
		Quantity:    "household.size > 5 ? 10000 : household.size * 2000"},
	{Name: "Cooking oil", Commodity: canasta.Commodity{Code: "oil", Unit: canasta.UnitMillilitre},
		Eligibility: "household.monthly_income == -1 || household.monthly_income < 200000",
		Quantity:    "500 + household.size * 250"},
	{Name: "Cooking fuel", Commodity: canasta.Commodity{Code: "fuel", Unit: canasta.UnitMillilitre},
		Eligibility: "household.monthly_income == -1 || household.monthly_income < 300000",
		Quantity:    "40000"},
	{Name: "Clinic visits", Commodity: canasta.Commodity{Code: "clinic", Unit: canasta.UnitVisit},
		Eligibility: "household.members.exists(m, (m.age >= 0 && m.age < 5) || m.age >= 65 || m.disability)",
		Quantity:    "household.members.filter(m, (m.age >= 0 && m.age < 5) || m.age >= 65 || m.disability).size() * 2"},
}

// demoPoints are a dozen points across the synthetic regions.
var demoPoints = []canasta.Point{
	{Name: "Tienda Don Pepe", Kind: canasta.PointShop, Region: "Norte"},
	{Name: "Abarrotes La Esperanza", Kind: canasta.PointShop, Region: "Sur"},
	{Name: "Mercado Central", Kind: canasta.PointShop, Region: "Capital"},
	{Name: "Riverside Grocers", Kind: canasta.PointShop, Region: "Riverside"},
	{Name: "Bodega del Valle", Kind: canasta.PointShop, Region: "Valle"},
	{Name: "Centro de Salud Sierra", Kind: canasta.PointClinic, Region: "Sierra"},
	{Name: "Posta Médica Costa", Kind: canasta.PointClinic, Region: "Costa"},
	{Name: "Northside Community Clinic", Kind: canasta.PointClinic, Region: "Northside"},
	{Name: "Grifo El Sol", Kind: canasta.PointFuel, Region: "Norte"},
	{Name: "Estación Los Andes", Kind: canasta.PointFuel, Region: "Sierra"},
	{Name: "Harbour Fuel", Kind: canasta.PointFuel, Region: "Costa"},
	{Name: "Cooperativa Santa Rosa", Kind: canasta.PointOther, Region: "Capital"},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	n := fs.Int("households", 5000, "number of synthetic households")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	seed := fs.Int64("seed", 1, "random seed for the synthetic population")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 2 {
		return fmt.Errorf("--households must be at least 2")
	}
	dir, err := os.MkdirTemp("", "canasta-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := openSQLite(dir)
	if err != nil {
		return err
	}
	defer st.close()

	ids, err := populate(ctx, st, *n, *seed, stderr)
	if err != nil {
		return err
	}
	_, secret, err := st.tokens.CreateToken(ctx, canasta.RoleAdmin, "demo admin")
	if err != nil {
		return err
	}
	logins, err := demoUsers(ctx, st)
	if err != nil {
		return err
	}
	srv := newServer(st, *addr, stderr)
	ic, err := srv.CardService.IssueCard(ctx, ids[0])
	if err != nil {
		return fmt.Errorf("issue demo card: %w", err)
	}
	if err := srv.Open(); err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	go srv.AuditService.(*audit.Log).Run(ctx, time.Second)
	fmt.Fprintf(stdout, "Canasta demo is running with %d households (data in %s).\n", *n, dir)
	fmt.Fprintf(stdout, "URL: %s\n", srv.URL())
	fmt.Fprintf(stdout, "Admin token: %s\n", secret)
	fmt.Fprintf(stdout, "Example households: %s %s\n", ids[0], ids[1])
	fmt.Fprintf(stdout, "Try: curl -H 'Authorization: Bearer %s' '%s/api/v1/households/%s/entitlements'\n", secret, srv.URL(), ids[0])
	fmt.Fprintf(stdout, "Example card: %s, printable at %s/api/v1/cards/%s.pdf\n", ic.CardID, srv.URL(), ic.CardID)
	fmt.Fprintf(stdout, "Person portal: sign in with card %s and PIN %s (POST %s/api/v1/portal/login)\n", ic.CardID, ic.PIN, srv.URL())
	fmt.Fprintf(stdout, "Audit: %s/api/v1/audit/checkpoint (check it with: canasta audit verify --url %s)\n", srv.URL(), srv.URL())
	fmt.Fprintf(stdout, "Web: %s/ (staff sign in at %s/login)\n", srv.URL(), srv.URL())
	fmt.Fprintf(stdout, "Example card code (paste it at %s/point): %s\n", srv.URL(), ic.Code)
	for _, l := range logins {
		fmt.Fprintf(stdout, "Web login: %s %s\n", l[0], l[1])
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "Stopping.")
	return srv.Close()
}

// populate fills a fresh store with a synthetic registry, the demo programs
// and points, and the current month's cycle. It returns two household ids.
func populate(ctx context.Context, st *store, n int, seed int64, stderr io.Writer) ([]string, error) {
	gen := synth.New(synth.Config{Households: n, Seed: seed})
	hs := make([]*canasta.Household, 0, n)
	for h := gen.Next(); h != nil; h = gen.Next() {
		hs = append(hs, h)
	}
	if _, err := importHouseholds(ctx, st.households, hs, stderr); err != nil {
		return nil, err
	}
	for i := range demoPrograms {
		p := demoPrograms[i]
		p.Period = canasta.PeriodMonthly
		if err := st.programs.CreateProgram(ctx, &p); err != nil {
			return nil, fmt.Errorf("create program %s: %w", p.Name, err)
		}
	}
	for i := range demoPoints {
		p := demoPoints[i]
		if err := st.points.CreatePoint(ctx, &p); err != nil {
			return nil, fmt.Errorf("create point %s: %w", p.Name, err)
		}
	}
	if _, err := computeCycle(ctx, st, canasta.PeriodOf(time.Now()), stderr); err != nil {
		return nil, err
	}
	if err := demoRedemptions(ctx, st, hs); err != nil {
		return nil, err
	}
	var ids []string
	for _, h := range hs[:2] {
		found, err := st.households.FindHouseholdBySourceID(ctx, h.SourceID)
		if err != nil {
			return nil, err
		}
		ids = append(ids, found.ID)
	}
	return ids, nil
}

// demoUsers creates one staff account per role, named after it, with a
// generated password, and returns the username and password pairs.
func demoUsers(ctx context.Context, st *store) ([][2]string, error) {
	var logins [][2]string
	for _, role := range canasta.Roles {
		password := newPassword()
		if _, err := st.users.CreateUser(ctx, string(role), role, password); err != nil {
			return nil, fmt.Errorf("create demo user %s: %w", role, err)
		}
		logins = append(logins, [2]string{string(role), password})
	}
	return logins, nil
}

// demoRedemptions redeems half of the first grant of every tenth
// household, so the auditors' reports have data: mostly at a point of the
// household's own region, one in eight elsewhere.
func demoRedemptions(ctx context.Context, st *store, hs []*canasta.Household) error {
	points, err := st.points.FindPoints(ctx)
	if err != nil || len(points) == 0 {
		return err
	}
	period := canasta.PeriodOf(time.Now())
	for n, i := 0, 0; i < len(hs); i += 10 {
		if hs[i].ID == "" {
			continue
		}
		ents, err := st.entitlements.FindEntitlements(ctx, hs[i].ID, period)
		if err != nil {
			return fmt.Errorf("demo redemptions: %w", err)
		}
		if len(ents) == 0 || ents[0].Remaining < 2 {
			continue
		}
		n++
		point := points[n%len(points)]
		for j := range points {
			if p := points[(n+j)%len(points)]; p.Region == hs[i].Address.Region && n%8 != 0 {
				point = p
				break
			}
		}
		req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("demo-%d", i), PointID: point.ID, HouseholdID: hs[i].ID,
			Items: []canasta.RedemptionItem{{ProgramID: ents[0].ProgramID, Quantity: ents[0].Remaining / 2}}}
		if _, _, err := st.redemptions.Redeem(ctx, req); err != nil {
			return fmt.Errorf("demo redemption: %w", err)
		}
	}
	return nil
}
