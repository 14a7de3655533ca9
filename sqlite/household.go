package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// HouseholdService is the registry of households and their members.
type HouseholdService struct {
	db *DB
}

var _ canasta.HouseholdService = (*HouseholdService)(nil)

// NewHouseholdService returns the household service on db.
func NewHouseholdService(db *DB) *HouseholdService {
	return &HouseholdService{db: db}
}

const (
	// A NULL hid lets SQLite choose the next one.
	insertHouseholdSQL = `INSERT INTO households (hid, id, source_id, line, locality, region, postcode, monthly_income, attributes, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertPersonSQL = `INSERT INTO persons (household_hid, line, id, source_id, given_name, family_name, birth_date, sex, national_id, relationship, disability, attributes)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	householdColumns = `hid, id, source_id, line, locality, region, postcode, monthly_income, attributes, created_at, updated_at`
	personColumns    = `id, source_id, given_name, family_name, birth_date, sex, national_id, relationship, disability, attributes`
)

// CreateHousehold validates h against the declared schema, assigns ids and
// stores it with its members.
func (s *HouseholdService) CreateHousehold(ctx context.Context, h *canasta.Household) error {
	if err := h.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	schema, err := findSchema(ctx, tx)
	if err != nil {
		return err
	}
	if err := schema.ValidateHousehold(h); err != nil {
		return err
	}
	if err := checkSourceIDs(ctx, tx, h); err != nil {
		return err
	}
	if err := createHousehold(ctx, tx, h); err != nil {
		return err
	}
	if err := storeHomePoint(ctx, tx, h); err != nil {
		return err
	}
	return tx.Commit()
}

// FindHouseholdByID returns the household and logs the read.
func (s *HouseholdService) FindHouseholdByID(ctx context.Context, id string) (*canasta.Household, error) {
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	return readHousehold(ctx, tx, hid)
}

// FindHouseholdBySourceID returns the household whose own source id, or
// else one of whose members' source id, is sourceID, and logs the read.
// Households and persons have separate source-id spaces, since they come
// from separate tables of the source system; the household's wins.
func (s *HouseholdService) FindHouseholdBySourceID(ctx context.Context, sourceID string) (*canasta.Household, error) {
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHIDBySourceID(ctx, tx, sourceID)
	if err != nil {
		return nil, err
	}
	return readHousehold(ctx, tx, hid)
}

// readHousehold loads a household, logs the read when there is an actor,
// and commits.
func readHousehold(ctx context.Context, tx *Tx, hid int64) (*canasta.Household, error) {
	h, err := findHouseholdByHID(ctx, tx, hid)
	if err != nil {
		return nil, err
	}
	if err := logAccess(ctx, tx, hid, "read-household"); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit household read: %w", err)
	}
	return h, nil
}

// CountHouseholds returns how many households are registered.
func (s *HouseholdService) CountHouseholds(ctx context.Context) (int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM households`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count households: %w", err)
	}
	return n, nil
}

// checkSourceIDs refuses a household whose source ids are taken.
func checkSourceIDs(ctx context.Context, tx *Tx, h *canasta.Household) error {
	var n int
	if h.SourceID != "" {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM households WHERE source_id = ?`, h.SourceID).Scan(&n); err != nil {
			return fmt.Errorf("check household source id: %w", err)
		} else if n > 0 {
			return canasta.Errorf(canasta.ECONFLICT, "A household with source id %q is already registered.", h.SourceID)
		}
	}
	seen := make(map[string]int, len(h.Members))
	for i, m := range h.Members {
		if m.SourceID == "" {
			continue
		}
		if j, ok := seen[m.SourceID]; ok {
			return canasta.Errorf(canasta.EINVALID, "Members %d and %d have the same source id %q.", j+1, i+1, m.SourceID)
		}
		seen[m.SourceID] = i
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM persons WHERE source_id = ?`, m.SourceID).Scan(&n); err != nil {
			return fmt.Errorf("check person source id: %w", err)
		} else if n > 0 {
			return canasta.Errorf(canasta.ECONFLICT, "Member %d: a person with source id %q is already registered.", i+1, m.SourceID)
		}
	}
	return nil
}

// createHousehold inserts h and its members, assigning ids and times.
func createHousehold(ctx context.Context, tx *Tx, h *canasta.Household) error {
	id := canasta.NewID(canasta.HouseholdIDPrefix)
	args, err := householdArgs(nil, h, id, tx.now)
	if err != nil {
		return err
	}
	r, err := tx.ExecContext(ctx, insertHouseholdSQL, args...)
	if isUniqueViolation(err) {
		return canasta.Errorf(canasta.ECONFLICT, "A household with source id %q is already registered.", h.SourceID)
	} else if err != nil {
		return fmt.Errorf("insert household: %w", err)
	}
	hid, err := r.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert household: %w", err)
	}
	h.ID, h.CreatedAt, h.UpdatedAt = id, tx.now, tx.now
	for i, m := range h.Members {
		pid := canasta.NewID(canasta.PersonIDPrefix)
		args, err := appendPersonArgs(nil, m, pid, hid, int64(i+1))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertPersonSQL, args...); isUniqueViolation(err) {
			return canasta.Errorf(canasta.ECONFLICT, "Member %d: a person with source id %q is already registered.", i+1, m.SourceID)
		} else if err != nil {
			return fmt.Errorf("insert person: %w", err)
		}
		m.ID, m.HouseholdID = pid, id
		if err := insertDedupKeys(ctx, tx, hid, int64(i+1), m, h.Address); err != nil {
			return err
		}
	}
	return auditHousehold(ctx, tx, canasta.AuditHouseholdCreate, hid, h)
}

// householdArgs are the values of insertHouseholdSQL; a nil hid lets
// SQLite choose it.
func householdArgs(hid any, h *canasta.Household, id string, now time.Time) ([]any, error) {
	attrs, err := encodeAttributes(h.Attributes)
	if err != nil {
		return nil, err
	}
	at := formatTime(now)
	return []any{hid, id, nullString(h.SourceID), h.Address.Line, h.Address.Locality, h.Address.Region,
		h.Address.Postcode, h.MonthlyIncome, attrs, at, at}, nil
}

// appendPersonArgs appends the values of insertPersonSQL.
func appendPersonArgs(args []any, m *canasta.Person, id string, hid, line int64) ([]any, error) {
	attrs, err := encodeAttributes(m.Attributes)
	if err != nil {
		return nil, err
	}
	return append(args, hid, line, id, nullString(m.SourceID), m.GivenName, m.FamilyName, m.BirthDate, string(m.Sex),
		nullString(m.NationalID), m.Relationship, m.Disability, attrs), nil
}

// householdHID maps a public household id to its row id. ENOTFOUND.
func householdHID(ctx context.Context, tx *Tx, id string) (int64, error) {
	var hid int64
	err := tx.QueryRowContext(ctx, `SELECT hid FROM households WHERE id = ?`, id).Scan(&hid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", id)
	} else if err != nil {
		return 0, fmt.Errorf("find household %s: %w", id, err)
	}
	return hid, nil
}

func householdHIDBySourceID(ctx context.Context, tx *Tx, sourceID string) (int64, error) {
	var hid int64
	err := tx.QueryRowContext(ctx, `SELECT hid FROM households WHERE source_id = ?`, sourceID).Scan(&hid)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT household_hid FROM persons WHERE source_id = ?`, sourceID).Scan(&hid)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "No household or person has source id %q.", sourceID)
	} else if err != nil {
		return 0, fmt.Errorf("find household by source id: %w", err)
	}
	return hid, nil
}

// findHouseholdByHID loads a household and its members in the order they
// were added.
func findHouseholdByHID(ctx context.Context, tx *Tx, hid int64) (*canasta.Household, error) {
	var (
		h                    canasta.Household
		sourceID, attrs      sql.NullString
		createdAt, updatedAt string
	)
	err := tx.QueryRowContext(ctx, `SELECT `+householdColumns+` FROM households WHERE hid = ?`, hid).Scan(
		&hid, &h.ID, &sourceID, &h.Address.Line, &h.Address.Locality, &h.Address.Region, &h.Address.Postcode,
		&h.MonthlyIncome, &attrs, &createdAt, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Household not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find household: %w", err)
	}
	h.SourceID = sourceID.String
	if h.Attributes, err = decodeAttributes(attrs); err != nil {
		return nil, err
	}
	if h.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, err
	}
	if h.UpdatedAt, err = parseTime(updatedAt); err != nil {
		return nil, err
	}
	if h.Members, err = findMembers(ctx, tx, hid, h.ID); err != nil {
		return nil, err
	}
	if h.HomePointID, err = findHomePoint(ctx, tx, hid); err != nil {
		return nil, err
	}
	return &h, nil
}

func findMembers(ctx context.Context, tx *Tx, hid int64, householdID string) ([]*canasta.Person, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+personColumns+` FROM persons WHERE household_hid = ? ORDER BY line`, hid)
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	defer rows.Close()
	members := []*canasta.Person{}
	for rows.Next() {
		var (
			p                           canasta.Person
			sex                         string
			sourceID, nationalID, attrs sql.NullString
		)
		if err := rows.Scan(&p.ID, &sourceID, &p.GivenName, &p.FamilyName, &p.BirthDate, &sex, &nationalID,
			&p.Relationship, &p.Disability, &attrs); err != nil {
			return nil, fmt.Errorf("scan member: %w", err)
		}
		p.HouseholdID, p.SourceID, p.NationalID, p.Sex = householdID, sourceID.String, nationalID.String, canasta.Sex(sex)
		if p.Attributes, err = decodeAttributes(attrs); err != nil {
			return nil, err
		}
		members = append(members, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	return members, nil
}

// encodeAttributes stores declared attribute values as a JSON object, or
// NULL when there are none.
func encodeAttributes(m map[string]any) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// decodeAttributes restores the types ValidateHousehold normalised to:
// bool, string, and int64 for every number (int is the only numeric
// attribute type, and float64 would lose digits above 2^53).
func decodeAttributes(s sql.NullString) (map[string]any, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s.String))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			i, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("decode attribute %s: %w", k, err)
			}
			m[k] = i
		}
	}
	return m, nil
}
