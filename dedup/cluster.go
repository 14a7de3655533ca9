package dedup

import (
	"cmp"
	"slices"
)

// Clusters groups records joined by pairs transitively (union-find): if
// A matches B and B matches C, all three are one person. It returns the
// groups of two or more records, each sorted, ordered by first member.
func Clusters(n int, pairs []Pair) [][]int32 {
	parent := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]] // path halving
			x = parent[x]
		}
		return x
	}
	for _, p := range pairs {
		a, b := find(p.A), find(p.B)
		if a != b {
			if a > b {
				a, b = b, a
			}
			parent[b] = a
		}
	}
	groups := map[int32][]int32{}
	for _, p := range pairs {
		for _, x := range [2]int32{p.A, p.B} {
			groups[find(x)] = append(groups[find(x)], x)
		}
	}
	out := make([][]int32, 0, len(groups))
	for _, g := range groups {
		slices.Sort(g)
		out = append(out, slices.Compact(g))
	}
	slices.SortFunc(out, func(a, b []int32) int { return cmp.Compare(a[0], b[0]) })
	return out
}
