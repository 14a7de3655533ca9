package http

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canasta/canasta"
)

// The program officer's pages: declare attributes, write and publish
// program rules, dry-run a rule change, and run monthly cycles. The API
// admits admins to all of these, and so do the pages.

// officerPage lists attributes and programs with the forms that add them.
type officerPage struct {
	Attributes []*canasta.Attribute
	Programs   []*canasta.Program
	Form       map[string]string // what was typed, when a form comes back
	AttrError  string
	ProgError  string
	CycleError string
	Period     canasta.Period
	Units      []canasta.Unit
}

func (p officerPage) V(name string) string { return p.Form[name] }

func (s *Server) officerBase(r *http.Request) (officerPage, error) {
	attrs, err := s.AttributeService.FindAttributes(r.Context())
	if err != nil {
		return officerPage{}, fmt.Errorf("officer attributes: %w", err)
	}
	programs, err := s.ProgramService.FindPrograms(r.Context())
	if err != nil {
		return officerPage{}, fmt.Errorf("officer programs: %w", err)
	}
	return officerPage{Attributes: attrs, Programs: programs, Form: map[string]string{}, Period: canasta.PeriodOf(s.now()),
		Units: []canasta.Unit{canasta.UnitGram, canasta.UnitMillilitre, canasta.UnitVisit, canasta.UnitMinor}}, nil
}

func (s *Server) handleOfficerPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.officerBase(r)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "officer", "officer.title", data)
	return nil
}

// handleWebCreateAttribute declares an attribute. A special-category
// refusal comes back with the screen's explanation.
func (s *Server) handleWebCreateAttribute(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	a := &canasta.Attribute{Name: strings.TrimSpace(f.Get("name")), Type: canasta.AttributeType(f.Get("type")),
		AppliesTo: canasta.AppliesTo(f.Get("applies_to")), Purpose: strings.TrimSpace(f.Get("purpose"))}
	err := s.AttributeService.CreateAttribute(r.Context(), a)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("declare attribute: %w", err)
	} else if err != nil {
		data, berr := s.officerBase(r)
		if berr != nil {
			return berr
		}
		data.AttrError = canasta.ErrorMessage(err)
		for _, k := range []string{"name", "type", "applies_to", "purpose"} {
			data.Form["attr_"+k] = f.Get(k)
		}
		s.render(w, r, ErrorStatusCode(code), "officer", "officer.title", data)
		return nil
	}
	http.Redirect(w, r, "/officer#attributes-h", http.StatusSeeOther)
	return nil
}

// programFromForm reads a program's fields from a form.
func programFromForm(f map[string][]string) *canasta.Program {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return &canasta.Program{Name: strings.TrimSpace(get("name")),
		Commodity:   canasta.Commodity{Code: strings.TrimSpace(get("commodity")), Unit: canasta.Unit(get("unit"))},
		Eligibility: strings.TrimSpace(get("eligibility")), Quantity: strings.TrimSpace(get("quantity")), Period: canasta.PeriodMonthly}
}

// handleWebCreateProgram publishes a program; its rules are compiled
// against the declared schema first, and a rule that does not check comes
// back with the compiler's message beside what was typed.
func (s *Server) handleWebCreateProgram(w http.ResponseWriter, r *http.Request) error {
	p := programFromForm(r.PostForm)
	err := s.ProgramService.CreateProgram(r.Context(), p)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("publish program: %w", err)
	} else if err != nil {
		data, berr := s.officerBase(r)
		if berr != nil {
			return berr
		}
		data.ProgError = canasta.ErrorMessage(err)
		for _, k := range []string{"name", "commodity", "unit", "eligibility", "quantity"} {
			data.Form["prog_"+k] = r.PostForm.Get(k)
		}
		s.render(w, r, ErrorStatusCode(code), "officer", "officer.title", data)
		return nil
	}
	http.Redirect(w, r, "/officer/programs/"+strconv.FormatInt(p.ID, 10), http.StatusSeeOther)
	return nil
}

// programPage shows one program and the dry run of a proposed change.
type programPage struct {
	Program  *canasta.Program
	Proposal *canasta.Program
	Period   canasta.Period
	CostMin  string
	CostPer  string
	DryRun   *canasta.DryRun
	Error    string
	Enabled  bool // whether this server can dry-run
}

func (s *Server) handleOfficerProgram(w http.ResponseWriter, r *http.Request) error {
	p, err := s.officerProgram(r)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "program", "program.title", programPage{Program: p, Proposal: p,
		Period: canasta.PeriodOf(s.now()), Enabled: s.DryRunService != nil})
	return nil
}

func (s *Server) officerProgram(r *http.Request) (*canasta.Program, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "There is no program %q.", r.PathValue("id"))
	}
	p, err := s.ProgramService.FindProgramByID(r.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("officer program: %w", err)
	}
	return p, nil
}

// handleWebDryRun evaluates the proposed rules for every household and
// shows who would gain, lose or keep their grant, without publishing.
func (s *Server) handleWebDryRun(w http.ResponseWriter, r *http.Request) error {
	p, err := s.officerProgram(r)
	if err != nil {
		return err
	}
	if s.DryRunService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "This server does not dry-run rules.")
	}
	f := r.PostForm
	proposal := *p
	proposal.Eligibility, proposal.Quantity = strings.TrimSpace(f.Get("eligibility")), strings.TrimSpace(f.Get("quantity"))
	data := programPage{Program: p, Proposal: &proposal, Period: canasta.Period(f.Get("period")),
		CostMin: strings.TrimSpace(f.Get("cost_minor")), CostPer: strings.TrimSpace(f.Get("cost_per")), Enabled: true}
	req := &canasta.DryRunRequest{ProgramID: p.ID, Proposal: proposal, Period: data.Period}
	if data.CostMin != "" {
		minor, ok := parseMinor(data.CostMin)
		per, perr := strconv.ParseInt(data.CostPer, 10, 64)
		if data.CostPer == "" {
			per, perr = 1, nil
		}
		if !ok || perr != nil || per <= 0 {
			data.Error = s.web.pages.message(webFromRequest(r).lang, "program.cost_bad")
			s.render(w, r, http.StatusBadRequest, "program", "program.title", data)
			return nil
		}
		req.UnitCost = &canasta.UnitCost{Minor: minor, Per: per}
	}
	run, err := s.DryRunService.DryRun(r.Context(), req)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("dry run: %w", err)
	} else if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "program", "program.title", data)
		return nil
	}
	data.DryRun = run
	s.render(w, r, http.StatusOK, "program", "program.title", data)
	return nil
}

// cycleJob is a cycle run in the background, watched from a page that
// refreshes itself until it is done.
type cycleJob struct {
	mu      sync.Mutex
	period  canasta.Period
	done    int
	total   int
	summary *canasta.CycleSummary
	err     error
	started time.Time
}

// cycleJobs keeps the runs started from this server, by id.
type cycleJobs struct {
	mu   sync.Mutex
	jobs map[string]*cycleJob
}

func (c *cycleJobs) add(job *cycleJob) string {
	id := canasta.NewID("cy_")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs == nil {
		c.jobs = map[string]*cycleJob{}
	}
	c.jobs[id] = job
	return id
}

func (c *cycleJobs) get(id string) *cycleJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[id]
}

// handleWebRunCycle starts the period's cycle and shows its progress. The
// run carries the officer's actor but not the request's cancellation: it
// goes on when the page is closed.
func (s *Server) handleWebRunCycle(w http.ResponseWriter, r *http.Request) error {
	period, err := canasta.ParsePeriod(r.PostForm.Get("period"))
	if err != nil {
		data, berr := s.officerBase(r)
		if berr != nil {
			return berr
		}
		data.CycleError = canasta.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "officer", "officer.title", data)
		return nil
	}
	job := &cycleJob{period: period, started: s.now()}
	id := s.web.cycles.add(job)
	ctx := context.WithoutCancel(r.Context())
	log := s.requestLogger(r)
	go func() {
		sum, err := s.CycleService.RunCycle(ctx, period, func(done, total int) {
			job.mu.Lock()
			job.done, job.total = done, total
			job.mu.Unlock()
		})
		if canasta.ErrorCode(err) == canasta.EINTERNAL {
			log.Error("cycle run", "period", period, "err", err)
		}
		job.mu.Lock()
		job.summary, job.err = sum, err
		job.mu.Unlock()
	}()
	http.Redirect(w, r, "/officer/cycles/"+id, http.StatusSeeOther)
	return nil
}

// cyclePage is a cycle run's progress or result.
type cyclePage struct {
	Period  canasta.Period
	Done    int
	Total   int
	Percent int
	Summary *canasta.CycleSummary
	Error   string
}

func (s *Server) handleWebCycle(w http.ResponseWriter, r *http.Request) error {
	job := s.web.cycles.get(r.PathValue("id"))
	if job == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no such cycle run on this server.")
	}
	job.mu.Lock()
	data := cyclePage{Period: job.period, Done: job.done, Total: job.total, Summary: job.summary}
	if job.err != nil {
		data.Error = canasta.ErrorMessage(job.err)
	}
	job.mu.Unlock()
	if data.Total > 0 {
		data.Percent = data.Done * 100 / data.Total
	}
	refresh := 0
	if data.Summary == nil && data.Error == "" {
		refresh = 2
	}
	s.renderRefresh(w, r, http.StatusOK, "cycle", "cycle.title", data, refresh)
	return nil
}

// handleWebPublishChange publishes a changed rule, after its dry run, as a
// new program that replaces this one: the next cycle grants by the new
// rule, and both stay published with the audit entry of the change.
func (s *Server) handleWebPublishChange(w http.ResponseWriter, r *http.Request) error {
	p, err := s.officerProgram(r)
	if err != nil {
		return err
	}
	next := &canasta.Program{Name: p.Name, Commodity: p.Commodity, Period: p.Period, Replaces: p.ID,
		Eligibility: strings.TrimSpace(r.PostForm.Get("eligibility")), Quantity: strings.TrimSpace(r.PostForm.Get("quantity"))}
	err = s.ProgramService.CreateProgram(r.Context(), next)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("publish change: %w", err)
	} else if err != nil {
		s.render(w, r, ErrorStatusCode(code), "program", "program.title", programPage{Program: p, Proposal: next,
			Period: canasta.PeriodOf(s.now()), Error: canasta.ErrorMessage(err), Enabled: s.DryRunService != nil})
		return nil
	}
	http.Redirect(w, r, "/officer/programs/"+strconv.FormatInt(next.ID, 10), http.StatusSeeOther)
	return nil
}
