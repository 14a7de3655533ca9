package dedup

import (
	"fmt"
	"math"
	"strings"
)

// Model is a Fellegi–Sunter model: for each field and level, m is the
// probability of that level among true matches and u among non-matches;
// Lambda is the share of matches among compared pairs. A pair's match
// weight is the sum of log2(m/u) over its fields, and its match
// probability follows from the weight and Lambda by Bayes' rule.
type Model struct {
	Lambda float64
	M, U   [NumFields][]float64 // index 0, "cannot tell", is unused
	// Iterations counts the EM iterations of all sessions.
	Iterations int
}

// priorStrength is how many pairs' worth of evidence the priors weigh:
// enough to keep a level seen in no pair away from zero, too little to
// matter once a registry of any size is compared.
const priorStrength = 10

// initialModel starts EM from u as measured on random pairs, which are
// almost all non-matches, and from an m that expects matches to agree,
// mostly exactly. These are also the Dirichlet priors.
func initialModel(u [NumFields][]float64, records int, possible float64) *Model {
	// Start from one duplicate per hundred records.
	m := &Model{Lambda: min(0.5, max(float64(records)/100, 1)/max(possible, 1))}
	for f := Field(0); f < NumFields; f++ {
		k := radix[f] - 1
		m.M[f] = make([]float64, radix[f])
		// The best level gets most of the mass; each worse level a third
		// of the one before: matches mostly agree, sometimes a little less.
		mass := 1.0
		for l := 1; l <= k; l++ {
			m.M[f][l] = mass
			mass /= 3
		}
		normalize(m.M[f])
		m.U[f] = append([]float64(nil), u[f]...)
	}
	return m
}

func normalize(p []float64) {
	s := 0.0
	for _, v := range p[1:] {
		s += v
	}
	for i := 1; i < len(p); i++ {
		p[i] /= s
	}
}

// logOdds is the natural log of the posterior odds of a match.
func (m *Model) logOdds(l Levels) float64 {
	lo := math.Log(m.Lambda / (1 - m.Lambda))
	for f := Field(0); f < NumFields; f++ {
		if v := l[f]; v != 0 && m.M[f] != nil {
			lo += math.Log(m.M[f][v] / m.U[f][v])
		}
	}
	return lo
}

// weights holds the model's log odds terms, computed once per use.
type weights struct {
	prior float64
	w     [NumFields][]float64
}

func (m *Model) weights() *weights {
	w := &weights{prior: math.Log(m.Lambda / (1 - m.Lambda))}
	for f := Field(0); f < NumFields; f++ {
		w.w[f] = make([]float64, radix[f])
		if m.M[f] == nil {
			continue
		}
		for l := 1; l < radix[f]; l++ {
			w.w[f][l] = math.Log(m.M[f][l] / m.U[f][l])
		}
	}
	return w
}

func (w *weights) logOdds(l *Levels) float64 {
	lo := w.prior
	for f := Field(0); f < NumFields; f++ {
		lo += w.w[f][l[f]]
	}
	return lo
}

// Probability is the match probability of a pair with levels l.
func (m *Model) Probability(l Levels) float64 {
	return 1 / (1 + math.Exp(-m.logOdds(l)))
}

// Weight is the match weight, in bits, of level l of field f.
func (m *Model) Weight(f Field, l int) float64 {
	if l == 0 || m.M[f] == nil {
		return 0
	}
	return math.Log2(m.M[f][l] / m.U[f][l])
}

// String lists the weights, for reports.
func (m *Model) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lambda=%.4g iterations=%d\n", m.Lambda, m.Iterations)
	for f := Field(0); f < NumFields; f++ {
		if m.M[f] == nil {
			continue
		}
		for l := 1; l < radix[f]; l++ {
			fmt.Fprintf(&b, "  %-11s %-28s m=%.4f u=%.6f weight=%+.2f\n", f, levelNames[f][l], m.M[f][l], m.U[f][l], m.Weight(f, l))
		}
	}
	return b.String()
}

// session is one EM run on the candidate pairs that agree exactly on
// some fields: within them, the other fields tell matches from
// non-matches. Estimating every m in one run over all candidate pairs is
// unstable: in a registry with common names, namesakes outnumber
// duplicates many times over, and EM readily takes them for the matches.
// Among pairs born on the same day, namesakes are rare, so the names' m
// comes out right; among pairs with the same names, the birth date's does.
//
// The session's pairs are drawn afresh, by the session's key alone, not
// from the candidate pairs: those were chosen for agreeing on names, so
// among them the names of non-matches agree far more often than u says.
// Sex is left out where the names are given: the same given name nearly
// always means the same sex, match or not.
type session struct {
	name   string
	key    func(r *Record) string // pairs with equal non-empty keys
	given  []Field                // fields the pairs agree on exactly (level 1)
	fields []Field                // fields whose m the session estimates
	fixed  []Field                // fields whose m an earlier session estimated
}

var sessions = []session{
	{"same birth date", fullBirth, []Field{FieldBirth},
		[]Field{FieldGiven, FieldFamily, FieldNationalID, FieldSex, FieldAddress}, nil},
	{"same names", func(r *Record) string {
		if r.given.empty() || r.family.empty() {
			return ""
		}
		return r.given.join + "|" + r.family.join
	}, []Field{FieldGiven, FieldFamily}, []Field{FieldBirth}, []Field{FieldNationalID, FieldAddress}},
}

// minSessionPairs is the fewest pairs a session needs to move m from its
// prior.
const minSessionPairs = 50

// fitSession runs EM for s on the counts of comparison patterns, with u
// fixed as measured on random pairs and the share of matches among the
// session's pairs free, and sets the m of s.fields in model.
func fitSession(counts []float64, s session, model *Model, priors [NumFields][]float64, maxIter int) {
	type seen struct {
		l Levels
		c float64
	}
	var pats []seen
	total := 0.0
	for p, c := range counts {
		if c == 0 {
			continue
		}
		l := levelsOf(uint32(p))
		ok := true
		for _, f := range s.given {
			ok = ok && l[f] == 1
		}
		if ok {
			pats = append(pats, seen{l, c})
			total += c
		}
	}
	if total < minSessionPairs {
		return
	}
	m := &Model{Lambda: 0.5, U: model.U}
	for _, f := range append(s.fields, s.fixed...) {
		m.M[f] = append([]float64(nil), model.M[f]...)
	}
	var sm [NumFields][]float64
	for f := range sm {
		sm[f] = make([]float64, radix[f])
	}
	iter := 1
	for ; iter <= maxIter; iter++ {
		for f := range sm {
			clear(sm[f])
		}
		matches := 0.0
		w := m.weights()
		for _, p := range pats {
			cg := p.c / (1 + math.Exp(-w.logOdds(&p.l)))
			matches += cg
			for _, f := range s.fields {
				if v := p.l[f]; v != 0 {
					sm[f][v] += cg
				}
			}
		}
		lambda := min(max(matches/total, 1e-9), 1-1e-9)
		change := math.Abs(lambda - m.Lambda)
		m.Lambda = lambda
		for _, f := range s.fields {
			change = max(change, update(m.M[f], sm[f], scaled(priors[f])))
		}
		if change < 1e-7 {
			break
		}
	}
	for _, f := range s.fields {
		model.M[f] = m.M[f]
	}
	model.Iterations += iter
}

func scaled(prior []float64) []float64 {
	p := make([]float64, len(prior))
	for l := range prior {
		p[l] = priorStrength * prior[l]
	}
	return p
}

// fitLambda estimates the share of matches among all possible pairs, with
// m and u fixed: the expected number of matches among the candidate pairs
// over the number of all pairs, since pairs blocking left out are almost
// all non-matches. A posterior with this Lambda holds for any pair,
// blocked or not, because blocking chooses pairs by the very fields the
// posterior conditions on.
func fitLambda(counts []float64, possible float64, m *Model, maxIter int) {
	for iter := 0; iter < maxIter; iter++ {
		w := m.weights()
		matches := 0.0
		for p, c := range counts {
			if c != 0 {
				l := levelsOf(uint32(p))
				matches += c / (1 + math.Exp(-w.logOdds(&l)))
			}
		}
		lambda := min(max(matches/possible, 1e-15), 0.5)
		change := math.Abs(lambda-m.Lambda) / m.Lambda
		m.Lambda = lambda
		if change < 1e-6 {
			break
		}
	}
}

// update sets p to the posterior mean of counts plus prior and returns
// the largest change.
func update(p, counts, prior []float64) float64 {
	s := 0.0
	for l := 1; l < len(p); l++ {
		s += counts[l] + prior[l]
	}
	change := 0.0
	for l := 1; l < len(p); l++ {
		v := (counts[l] + prior[l]) / s
		change = max(change, math.Abs(v-p[l]))
		p[l] = v
	}
	return change
}
