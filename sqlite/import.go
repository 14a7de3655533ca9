package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
)

// ImportHouseholds stores a batch in one transaction, keyed by source id.
// Every household and member must carry a source id, since that is what
// lets a second import of the same data change nothing. A household whose
// source id exists gets only its new members; a member whose source id
// exists, in any household, is left as it is, and a new household none of
// whose members is new is not stored. On return, stored households have
// their ids, and members their ids when they were created.
func (s *HouseholdService) ImportHouseholds(ctx context.Context, hs []*canasta.Household) (canasta.ImportResult, error) {
	var res canasta.ImportResult
	for i, h := range hs {
		if h == nil || h.SourceID == "" {
			return res, canasta.Errorf(canasta.EINVALID, "Household %d of the batch has no source id; imported records are matched by source id.", i+1)
		}
		for j, m := range h.Members {
			if m == nil || m.SourceID == "" {
				return res, canasta.Errorf(canasta.EINVALID, "Member %d of household %d of the batch has no source id; imported records are matched by source id.", j+1, i+1)
			}
		}
	}

	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()

	schema, err := findSchema(ctx, tx)
	if err != nil {
		return res, err
	}
	for i, h := range hs {
		if err := schema.ValidateHousehold(h); err != nil {
			return res, canasta.Errorf(canasta.EINVALID, "Household %d of the batch: %s", i+1, canasta.ErrorMessage(err))
		}
	}

	imp, err := newImporter(ctx, tx)
	if err != nil {
		return res, err
	}
	defer imp.close()
	for _, h := range hs {
		if err := imp.importHousehold(ctx, h, &res); err != nil {
			return canasta.ImportResult{}, err
		}
	}
	if err := insertDedupKeyRows(ctx, tx, imp.keys); err != nil {
		return canasta.ImportResult{}, err
	}
	if err := appendAudit(ctx, tx, imp.entries...); err != nil {
		return canasta.ImportResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return canasta.ImportResult{}, fmt.Errorf("commit import: %w", err)
	}
	return res, nil
}

// importer holds the statements of one import transaction, prepared once.
// Single-row statements measured as fast as multi-row ones here: a
// multi-row INSERT needs a statement journal, or RETURNING to learn which
// rows were skipped, and either costs what the saved statements would.
type importer struct {
	tx                                 *Tx
	insertHousehold, householdBySource *sql.Stmt
	lastLine, insertPerson             *sql.Stmt
	touch, dropHousehold               *sql.Stmt
	insertAuditKey                     *sql.Stmt
	args                               []any
	// entries are the audit entries of the households created or grown,
	// appended together before commit.
	entries []*canasta.AuditEntry
	// keys are the new persons' duplicate-lookup keys, inserted together
	// in key order before commit.
	keys []dedupKey
}

func newImporter(ctx context.Context, tx *Tx) (*importer, error) {
	imp := &importer{tx: tx, args: make([]any, 0, 12)}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&imp.insertHousehold, insertHouseholdSQL + ` ON CONFLICT (source_id) DO NOTHING`},
		{&imp.householdBySource, `SELECT hid, id FROM households WHERE source_id = ?`},
		{&imp.lastLine, `SELECT COALESCE(MAX(line), 0) FROM persons WHERE household_hid = ?`},
		{&imp.insertPerson, insertPersonSQL + ` ON CONFLICT (source_id) DO NOTHING`},
		{&imp.touch, `UPDATE households SET updated_at = ? WHERE hid = ?`},
		{&imp.dropHousehold, `DELETE FROM households WHERE hid = ?`},
		{&imp.insertAuditKey, `INSERT INTO audit_keys (household_hid, key) VALUES (?, ?)`},
	} {
		stmt, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			imp.close()
			return nil, fmt.Errorf("prepare import: %w", err)
		}
		*p.stmt = stmt
	}
	return imp, nil
}

func (imp *importer) close() {
	for _, s := range []*sql.Stmt{imp.insertHousehold, imp.householdBySource, imp.lastLine, imp.insertPerson, imp.touch, imp.dropHousehold, imp.insertAuditKey} {
		if s != nil {
			s.Close()
		}
	}
}

func (imp *importer) importHousehold(ctx context.Context, h *canasta.Household, res *canasta.ImportResult) error {
	now := imp.tx.now
	id := canasta.NewID(canasta.HouseholdIDPrefix)
	args, err := householdArgs(nil, h, id, now)
	if err != nil {
		return err
	}
	r, err := imp.insertHousehold.ExecContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("import household: %w", err)
	}
	var hid, line int64
	created := rowsAffected(r) == 1
	if created {
		if hid, err = r.LastInsertId(); err != nil {
			return fmt.Errorf("import household: %w", err)
		}
	} else {
		if err := imp.householdBySource.QueryRowContext(ctx, h.SourceID).Scan(&hid, &id); err != nil {
			return fmt.Errorf("import household: find by source id: %w", err)
		}
		if err := imp.lastLine.QueryRowContext(ctx, hid).Scan(&line); err != nil {
			return fmt.Errorf("import household: last member: %w", err)
		}
	}

	added := 0
	var members []*canasta.Person
	for _, m := range h.Members {
		line++ // a member left out leaves a gap; lines only order members
		pid := canasta.NewID(canasta.PersonIDPrefix)
		if imp.args, err = appendPersonArgs(imp.args[:0], m, pid, hid, line); err != nil {
			return err
		}
		r, err := imp.insertPerson.ExecContext(ctx, imp.args...)
		if err != nil {
			return fmt.Errorf("import person: %w", err)
		}
		if rowsAffected(r) == 1 {
			m.ID, m.HouseholdID = pid, id
			members = append(members, m)
			added++
			imp.keys = appendDedupKeys(imp.keys, imp.tx.db, hid, line, m, h.Address)
		} else {
			res.PersonsUnchanged++
		}
	}
	res.PersonsCreated += added

	switch {
	case created && added == 0:
		// Every member is registered elsewhere already: the new household
		// would be a household of nobody. Nothing can refer to it yet.
		if _, err := imp.dropHousehold.ExecContext(ctx, hid); err != nil {
			return fmt.Errorf("import household: drop empty: %w", err)
		}
		h.ID = ""
	case created:
		h.ID, h.CreatedAt, h.UpdatedAt = id, now, now
		res.HouseholdsCreated++
		// A new household has no commitment key yet: make it here rather
		// than look for one.
		key := audit.NewKey()
		if _, err := imp.insertAuditKey.ExecContext(ctx, hid, key); err != nil {
			return fmt.Errorf("import household: audit key: %w", err)
		}
		e := canasta.AuditEntryFor(ctx, canasta.AuditHouseholdCreate, now)
		e.Objects = map[string]string{"household": id}
		if e.Commitment, err = audit.Commit(key, h); err != nil {
			return err
		}
		imp.entries = append(imp.entries, e)
	default:
		h.ID = id
		if added > 0 {
			if _, err := imp.touch.ExecContext(ctx, formatTime(now), hid); err != nil {
				return fmt.Errorf("import household: touch: %w", err)
			}
			e, err := householdEntry(ctx, imp.tx, canasta.AuditHouseholdUpdate, hid, id, members)
			if err != nil {
				return err
			}
			imp.entries = append(imp.entries, e)
		}
	}
	return nil
}
