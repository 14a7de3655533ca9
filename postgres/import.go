package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/jackc/pgx/v5"
)

// importAttempts bounds how often a batch is retried when a concurrent
// writer registers one of its source ids between the batch's lookup and
// its write.
const importAttempts = 3

// ImportHouseholds stores a batch in one transaction, keyed by source id.
// Every household and member must carry a source id, since that is what
// lets a second import of the same data change nothing. A household whose
// source id exists gets only its new members; a member whose source id
// exists, in any household, is left as it is, and a new household none of
// whose members is new is not stored. On return, stored households have
// their ids, and members their ids when they were created.
//
// The batch's existing records are looked up in three queries, what is new
// is worked out here, and the new rows are written with COPY.
func (s *HouseholdService) ImportHouseholds(ctx context.Context, hs []*canasta.Household) (res canasta.ImportResult, err error) {
	defer checkAvailable(&err)
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
	for attempt := 1; ; attempt++ {
		res, err = s.importBatch(ctx, hs)
		if !isUniqueViolation(err) || attempt == importAttempts {
			return res, err
		}
	}
}

// importHousehold is what an import does with one household of the batch.
type importHousehold struct {
	hid     int64
	id      string
	line    int32 // the last member line used
	created bool
}

// importPerson is a member the import creates.
type importPerson struct {
	household *importHousehold
	m         *canasta.Person
	id        string
	line      int32
}

func (s *HouseholdService) importBatch(ctx context.Context, hs []*canasta.Household) (canasta.ImportResult, error) {
	var res canasta.ImportResult
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return res, err
	}
	defer tx.release()

	schema, err := findSchema(ctx, tx)
	if err != nil {
		return res, err
	}
	for i, h := range hs {
		if err := schema.ValidateHousehold(h); err != nil {
			return res, canasta.Errorf(canasta.EINVALID, "Household %d of the batch: %s", i+1, canasta.ErrorMessage(err))
		}
	}
	households, persons, err := findImported(ctx, tx, hs)
	if err != nil {
		return res, err
	}

	// Walk the batch in order, as if each household were imported alone.
	var (
		outcome     = make([]*importHousehold, len(hs))
		createdHere = make([]bool, len(hs)) // the household was created by this entry of the batch
		newHH       []*importHousehold
		newHHData   []*canasta.Household
		newPersons  []importPerson
		touched     []int64
	)
	for i, h := range hs {
		ih, exists := households[h.SourceID]
		if !exists {
			ih = &importHousehold{id: canasta.NewID(canasta.HouseholdIDPrefix), created: true}
		}
		added := 0
		for _, m := range h.Members {
			ih.line++ // a member left out leaves a gap; lines only order members
			if persons[m.SourceID] {
				res.PersonsUnchanged++
				continue
			}
			persons[m.SourceID] = true
			newPersons = append(newPersons, importPerson{household: ih, m: m, id: canasta.NewID(canasta.PersonIDPrefix), line: ih.line})
			added++
		}
		res.PersonsCreated += added
		switch {
		case !exists && added == 0:
			// Every member is registered elsewhere already: the new
			// household would be a household of nobody.
		case !exists:
			households[h.SourceID] = ih
			newHH, newHHData = append(newHH, ih), append(newHHData, h)
			outcome[i], createdHere[i] = ih, true
			res.HouseholdsCreated++
		default:
			outcome[i] = ih
			if added > 0 && !ih.created {
				touched = append(touched, ih.hid)
			}
		}
	}

	if err := insertImported(ctx, tx, newHH, newHHData, newPersons, touched); err != nil {
		return canasta.ImportResult{}, err
	}
	if err := indexImported(ctx, tx, s.db.Dedup, hs, newPersons); err != nil {
		return canasta.ImportResult{}, err
	}
	if err := auditImport(ctx, tx, newHH, newHHData, newPersons, touched); err != nil {
		return canasta.ImportResult{}, err
	}
	if err := tx.commit("import"); err != nil {
		return canasta.ImportResult{}, err
	}

	// Only now that the batch is stored do the records learn their ids.
	for i, h := range hs {
		ih := outcome[i]
		switch {
		case ih == nil:
			h.ID = ""
		case createdHere[i]:
			h.ID, h.CreatedAt, h.UpdatedAt = ih.id, tx.now, tx.now
		default:
			h.ID = ih.id
		}
	}
	for _, p := range newPersons {
		p.m.ID, p.m.HouseholdID = p.id, p.household.id
	}
	return res, nil
}

// findImported looks up the batch's households that exist, with the last
// line of their members, and the batch's persons that exist.
func findImported(ctx context.Context, tx *Tx, hs []*canasta.Household) (map[string]*importHousehold, map[string]bool, error) {
	hsids := make([]string, 0, len(hs))
	var psids []string
	for _, h := range hs {
		hsids = append(hsids, h.SourceID)
		for _, m := range h.Members {
			psids = append(psids, m.SourceID)
		}
	}

	households := make(map[string]*importHousehold, len(hs))
	byHID := map[int64]*importHousehold{}
	rows, err := tx.Query(ctx, `SELECT source_id, hid, id FROM households WHERE source_id = ANY($1)`, hsids)
	if err != nil {
		return nil, nil, fmt.Errorf("import: find households: %w", err)
	}
	for rows.Next() {
		var sourceID string
		ih := &importHousehold{}
		if err := rows.Scan(&sourceID, &ih.hid, &ih.id); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("import: scan household: %w", err)
		}
		households[sourceID], byHID[ih.hid] = ih, ih
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("import: find households: %w", err)
	}

	if len(byHID) > 0 {
		hids := make([]int64, 0, len(byHID))
		for hid := range byHID {
			hids = append(hids, hid)
		}
		rows, err := tx.Query(ctx, `SELECT household_hid, max(line) FROM persons WHERE household_hid = ANY($1) GROUP BY household_hid`, hids)
		if err != nil {
			return nil, nil, fmt.Errorf("import: find last members: %w", err)
		}
		for rows.Next() {
			var hid int64
			var line int32
			if err := rows.Scan(&hid, &line); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("import: scan last member: %w", err)
			}
			byHID[hid].line = line
		}
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("import: find last members: %w", err)
		}
	}

	persons := make(map[string]bool, len(psids))
	rows, err = tx.Query(ctx, `SELECT source_id FROM persons WHERE source_id = ANY($1)`, psids)
	if err != nil {
		return nil, nil, fmt.Errorf("import: find persons: %w", err)
	}
	for rows.Next() {
		var sourceID string
		if err := rows.Scan(&sourceID); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("import: scan person: %w", err)
		}
		persons[sourceID] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("import: find persons: %w", err)
	}
	return households, persons, nil
}

// insertImported draws row ids for the new households from the identity's
// sequence, copies the new households and persons in, and marks the
// existing households that gained members as updated.
func insertImported(ctx context.Context, tx *Tx, newHH []*importHousehold, data []*canasta.Household, persons []importPerson, touched []int64) error {
	if len(newHH) > 0 {
		rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('households', 'hid')) FROM generate_series(1, $1)`, len(newHH))
		if err != nil {
			return fmt.Errorf("import: draw household ids: %w", err)
		}
		hids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("import: draw household ids: %w", err)
		}
		slices.Sort(hids) // so row ids follow the batch's order
		for i, ih := range newHH {
			ih.hid = hids[i]
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"households"},
			[]string{"hid", "id", "source_id", "line", "locality", "region", "postcode", "monthly_income", "attributes", "created_at", "updated_at"},
			pgx.CopyFromSlice(len(newHH), func(i int) ([]any, error) {
				h := data[i]
				attrs, err := encodeAttributes(h.Attributes)
				if err != nil {
					return nil, err
				}
				return []any{newHH[i].hid, newHH[i].id, h.SourceID, h.Address.Line, h.Address.Locality, h.Address.Region,
					h.Address.Postcode, h.MonthlyIncome, attrs, tx.now, tx.now}, nil
			}))
		if err != nil {
			return fmt.Errorf("import households: %w", err)
		}
	}
	if len(persons) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"persons"}, personTableColumns,
			pgx.CopyFromSlice(len(persons), func(i int) ([]any, error) {
				p := persons[i]
				return personRow(p.m, p.id, p.household.hid, p.line)
			}))
		if err != nil {
			return fmt.Errorf("import persons: %w", err)
		}
	}
	if len(touched) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE households SET updated_at = $1 WHERE hid = ANY($2)`, tx.now, touched); err != nil {
			return fmt.Errorf("import: touch households: %w", err)
		}
	}
	return nil
}

// auditImport appends the batch's audit entries: one per household created
// (with a fresh commitment key) and one per household that gained members.
func auditImport(ctx context.Context, tx *Tx, newHH []*importHousehold, data []*canasta.Household, persons []importPerson, touched []int64) error {
	keys := make(map[int64][]byte, len(newHH)+len(touched))
	if len(newHH) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_keys"}, []string{"household_hid", "key"},
			pgx.CopyFromSlice(len(newHH), func(i int) ([]any, error) {
				k := audit.NewKey()
				keys[newHH[i].hid] = k
				return []any{newHH[i].hid, k}, nil
			}))
		if err != nil {
			return fmt.Errorf("import: audit keys: %w", err)
		}
	}
	added := make(map[int64][]*canasta.Person)
	grown := make(map[int64]*importHousehold)
	for _, p := range persons {
		if !p.household.created {
			added[p.household.hid] = append(added[p.household.hid], p.m)
			grown[p.household.hid] = p.household
		}
	}
	entries := make([]*canasta.AuditEntry, 0, len(newHH)+len(touched))
	for i, ih := range newHH {
		e := canasta.AuditEntryFor(ctx, canasta.AuditHouseholdCreate, tx.now)
		e.Objects = map[string]string{"household": ih.id}
		c, err := audit.Commit(keys[ih.hid], struct {
			ID        string             `json:"id"`
			Household *canasta.Household `json:"household"`
		}{ih.id, data[i]})
		if err != nil {
			return err
		}
		e.Commitment = c
		entries = append(entries, e)
	}
	for _, hid := range touched {
		e, err := householdEntry(ctx, tx, canasta.AuditHouseholdUpdate, hid, grown[hid].id, added[hid])
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	return appendAudit(ctx, tx, entries...)
}
