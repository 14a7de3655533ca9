package dedup

// Jaro returns the Jaro similarity of a and b, from 0 (nothing in common)
// to 1 (equal), comparing bytes: names are folded to ASCII first.
func Jaro(a, b string) float64 {
	if a == b {
		if a == "" {
			return 0
		}
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	window := max(lb/2-1, 0)
	var stackA, stackB [64]bool
	var ma, mb []bool
	if la <= 64 && lb <= 64 {
		ma, mb = stackA[:la], stackB[:lb]
	} else {
		ma, mb = make([]bool, la), make([]bool, lb)
	}
	matches := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && a[i] == b[j] {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, j := 0, 0
	for i := 0; i < la; i++ {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if a[i] != b[j] {
			transpositions++
		}
		j++
	}
	m := float64(matches)
	return (m/float64(la) + m/float64(lb) + (m-float64(transpositions/2))/m) / 3
}

// JaroWinkler returns the Jaro–Winkler similarity of a and b: Jaro's,
// raised for a common prefix of up to four bytes with Winkler's scale of
// 0.1 when the Jaro similarity is above 0.7, since typing errors are rarer
// at the start of a name.
func JaroWinkler(a, b string) float64 {
	j := Jaro(a, b)
	if j <= 0.7 {
		return j
	}
	p := 0
	for p < 4 && p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	return j + float64(p)*0.1*(1-j)
}

// OneEdit reports whether a and b differ by exactly one substitution,
// insertion, deletion or transposition of adjacent characters: the
// errors of one keystroke, or of a misread digit.
func OneEdit(a, b string) bool {
	la, lb := len(a), len(b)
	switch {
	case la == lb:
		first := -1
		for i := 0; i < la; i++ {
			if a[i] != b[i] {
				first = i
				break
			}
		}
		if first < 0 {
			return false
		}
		if a[first+1:] == b[first+1:] {
			return true
		}
		return first+1 < la && a[first] == b[first+1] && a[first+1] == b[first] && a[first+2:] == b[first+2:]
	case la == lb+1:
		return oneDeletion(a, b)
	case lb == la+1:
		return oneDeletion(b, a)
	}
	return false
}

// oneDeletion reports whether removing one byte from long gives short.
func oneDeletion(long, short string) bool {
	i := 0
	for i < len(short) && long[i] == short[i] {
		i++
	}
	return long[i+1:] == short[i:]
}

// JaroWinklerAtLeast reports whether JaroWinkler(a, b) >= min, first
// ruling out most different names by a bound from the letters they share:
// most names compared are plainly different, and the bound costs far less
// than the similarity.
func JaroWinklerAtLeast(a, b string, min float64) bool {
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return false
	}
	p := 0
	for p < 4 && p < la && p < lb && a[p] == b[p] {
		p++
	}
	// JW = J + p/10 (1 - J) when J > 0.7, and J otherwise, so JW >= min
	// needs J >= need.
	boost := float64(p) / 10
	need := max(0.7, (min-boost)/(1-boost))
	// Matching characters are at most the letters the two share, counted
	// in 32 buckets: merged buckets only raise the count.
	var count [32]int8
	for i := 0; i < la; i++ {
		count[a[i]&31]++
	}
	common := 0
	for i := 0; i < lb; i++ {
		if c := &count[b[i]&31]; *c > 0 {
			*c--
			common++
		}
	}
	m := float64(common)
	if (m/float64(la)+m/float64(lb)+1)/3 < need {
		return false
	}
	return JaroWinkler(a, b) >= min
}
