package http

import (
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// The auditor's pages: the audit log with its checkpoint verified and
// entries proved in the page, the access log of a household, and the
// reports with their charts, data tables and CSV files.

// auditorEntries is how many of the newest entries the page lists.
const auditorEntries = 20

// auditorPage is the audit log as an auditor sees it.
type auditorPage struct {
	Enabled    bool
	Checkpoint string
	Key        string
	Size       int64
	Root       string
	Verified   bool
	VerifyErr  string
	Entries    []auditorEntry
	Proof      *auditorProof
	Reports    []string
}

type auditorEntry struct {
	Index int64
	Text  string
}

// auditorProof is the outcome of checking one entry's inclusion proof
// against the verified checkpoint.
type auditorProof struct {
	Index    int64
	LeafHash string
	Hashes   []string
	OK       bool
	Problem  string
	Entry    string
}

func (s *Server) handleAuditorPage(w http.ResponseWriter, r *http.Request) error {
	data := auditorPage{Enabled: s.AuditService != nil, Reports: ReportNames}
	if !data.Enabled {
		s.render(w, r, http.StatusOK, "auditor", "auditor.title", data)
		return nil
	}
	ctx := r.Context()
	note, err := s.AuditService.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("auditor checkpoint: %w", err)
	}
	key, err := s.AuditService.VerifierKey(ctx)
	if err != nil {
		return fmt.Errorf("auditor key: %w", err)
	}
	data.Checkpoint, data.Key = string(note), key
	cp, err := audit.OpenCheckpoint(note, key)
	if err != nil {
		data.VerifyErr = err.Error()
		s.render(w, r, http.StatusOK, "auditor", "auditor.title", data)
		return nil
	}
	data.Verified, data.Size, data.Root = true, cp.Size, hex.EncodeToString(cp.Root[:])
	if start := max(cp.Size-auditorEntries, 0); cp.Size > 0 {
		leaves, err := s.AuditService.Entries(ctx, start, cp.Size)
		if err != nil {
			return fmt.Errorf("auditor entries: %w", err)
		}
		for i, leaf := range leaves {
			data.Entries = append(data.Entries, auditorEntry{Index: start + int64(i), Text: string(leaf)})
		}
		slices.Reverse(data.Entries)
	}
	if v := r.URL.Query().Get("index"); v != "" {
		data.Proof = s.proveEntry(r, v, cp)
	}
	s.render(w, r, http.StatusOK, "auditor", "auditor.title", data)
	return nil
}

// proveEntry fetches an entry and its inclusion proof and checks both
// against the checkpoint the page verified: the leaf hash must be the
// hash of the entry's bytes and the proof must lead to the signed root.
func (s *Server) proveEntry(r *http.Request, v string, cp audit.Checkpoint) *auditorProof {
	index, err := strconv.ParseInt(v, 10, 64)
	if err != nil || index < 0 || index >= cp.Size {
		return &auditorProof{Index: index, Problem: fmt.Sprintf("Give an entry index from 0 to %d.", cp.Size-1)}
	}
	p := &auditorProof{Index: index}
	leaf, err := s.AuditService.Entry(r.Context(), index)
	if err != nil {
		p.Problem = canasta.ErrorMessage(err)
		return p
	}
	p.Entry = string(leaf)
	leafHash, proof, err := s.AuditService.InclusionProof(r.Context(), index, cp.Size)
	if err != nil {
		p.Problem = canasta.ErrorMessage(err)
		return p
	}
	p.LeafHash = hex.EncodeToString(leafHash[:])
	hashes := make(tlog.RecordProof, len(proof))
	for i, h := range proof {
		hashes[i] = tlog.Hash(h)
		p.Hashes = append(p.Hashes, hex.EncodeToString(h[:]))
	}
	switch {
	case tlog.RecordHash(leaf) != tlog.Hash(leafHash):
		p.Problem = "The entry's bytes do not hash to the leaf hash the log gave."
	case tlog.CheckRecord(hashes, cp.Size, cp.Root, index, tlog.Hash(leafHash)) != nil:
		p.Problem = "The inclusion proof does not lead to the signed root."
	default:
		p.OK = true
	}
	return p
}

// accessSearchPage is the access log of one household, read for a
// stated purpose.
type accessSearchPage struct {
	HouseholdID string
	Purposes    []canasta.Purpose
	Purpose     canasta.Purpose
	Events      []*canasta.AccessEvent
	Searched    bool
	Error       string
}

func (s *Server) handleAuditorAccessPage(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "access", "access.title", accessSearchPage{Purposes: canasta.Purposes, Purpose: canasta.PurposeAudit})
	return nil
}

func (s *Server) handleAuditorAccessSearch(w http.ResponseWriter, r *http.Request) error {
	data := accessSearchPage{Purposes: canasta.Purposes, HouseholdID: strings.TrimSpace(r.PostForm.Get("household"))}
	purpose, err := canasta.ParsePurpose(r.PostForm.Get("purpose"))
	if err == nil && data.HouseholdID == "" {
		err = canasta.Errorf(canasta.EINVALID, "Give the household id whose access log to read.")
	}
	var events []*canasta.AccessEvent
	if err == nil {
		data.Purpose = purpose
		events, err = s.AccessLogService.FindAccessEvents(canasta.NewContextWithPurpose(r.Context(), purpose), data.HouseholdID)
	}
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("access log search: %w", err)
	} else if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "access", "access.title", data)
		return nil
	}
	data.Events, data.Searched = events, true
	s.render(w, r, http.StatusOK, "access", "access.title", data)
	return nil
}

// reportPage is one report: its filter form, chart, data table and the
// link to its CSV.
type reportPage struct {
	Name    string
	Names   []string
	Report  *Report
	SVG     template.HTML
	CSV     string
	Filter  map[string]string
	Error   string
	Enabled bool
}

// handleAuditorReport shows a report (NAME) or downloads its data
// (NAME.csv), for the filters in the query.
func (s *Server) handleAuditorReport(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	name, csv := strings.CutSuffix(file, ".csv")
	if !slices.Contains(ReportNames, name) {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no report %q.", file)
	}
	if s.ReportService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "This server computes no reports.")
	}
	q := r.URL.Query()
	rep, err := s.Report(r.Context(), name, q)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("auditor report %s: %w", name, err)
	} else if err != nil {
		filter := map[string]string{}
		for k := range q {
			filter[k] = q.Get(k)
		}
		s.render(w, r, ErrorStatusCode(code), "report", "report.title", reportPage{Name: name, Names: ReportNames, Filter: filter, Error: canasta.ErrorMessage(err), Enabled: true})
		return nil
	}
	if csv {
		rep.WriteCSV(w)
		return nil
	}
	data := reportPage{Name: name, Names: ReportNames, Report: rep, Filter: rep.Filter, Enabled: true,
		// The SVG is drawn by this server from escaped text.
		SVG: template.HTML(rep.SVG()), CSV: "/auditor/reports/" + name + ".csv?" + q.Encode()}
	s.render(w, r, http.StatusOK, "report", "report.title", data)
	return nil
}
