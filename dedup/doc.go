// Package dedup finds persons registered more than once: record linkage
// in the Fellegi–Sunter tradition. Records are prepared once (folded
// names, nicknames written out, a sound code for Spanish and English
// spellings, parsed birth dates, address words), blocked on several keys
// so that only plausible pairs are compared, compared field by field on
// graded levels of agreement, and scored with a model whose m and u are
// estimated from the registry itself by expectation–maximisation, with
// household context. The result is a match probability per pair and the
// transitive clusters of likely duplicates.
//
// The same keys and model serve enrollment: a store keeps each person's
// IndexKeys and looks a new person up through them (Matcher).
package dedup
