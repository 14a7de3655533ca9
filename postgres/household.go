package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
	householdColumns = `hid, id, source_id, line, locality, region, postcode, monthly_income, attributes, created_at, updated_at`
	personColumns    = `id, source_id, given_name, family_name, birth_date, sex, national_id, relationship, disability, attributes`
)

// personTableColumns are the columns a household's members are written to,
// in the order of personRow.
var personTableColumns = []string{"household_hid", "line", "id", "source_id", "given_name", "family_name",
	"birth_date", "sex", "national_id", "relationship", "disability", "attributes"}

// CreateHousehold validates h against the declared schema, assigns ids and
// stores it with its members.
func (s *HouseholdService) CreateHousehold(ctx context.Context, h *canasta.Household) (err error) {
	defer checkAvailable(&err)
	if err := h.Validate(); err != nil {
		return err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

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
	if err := indexHousehold(ctx, tx, s.db.Dedup, h); err != nil {
		return err
	}
	if err := storeHomePoint(ctx, tx, h); err != nil {
		return err
	}
	return tx.commit("household")
}

// FindHouseholdByID returns the household and logs the read.
func (s *HouseholdService) FindHouseholdByID(ctx context.Context, id string) (_ *canasta.Household, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

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
func (s *HouseholdService) FindHouseholdBySourceID(ctx context.Context, sourceID string) (_ *canasta.Household, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

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
	if err := tx.commit("household read"); err != nil {
		return nil, err
	}
	return h, nil
}

// CountHouseholds returns how many households are registered.
func (s *HouseholdService) CountHouseholds(ctx context.Context) (_ int, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	var n int
	if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM households`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count households: %w", err)
	}
	return n, nil
}

// checkSourceIDs refuses a household whose source ids are taken.
func checkSourceIDs(ctx context.Context, tx *Tx, h *canasta.Household) error {
	var taken bool
	if h.SourceID != "" {
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM households WHERE source_id = $1)`, h.SourceID).Scan(&taken); err != nil {
			return fmt.Errorf("check household source id: %w", err)
		} else if taken {
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
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM persons WHERE source_id = $1)`, m.SourceID).Scan(&taken); err != nil {
			return fmt.Errorf("check person source id: %w", err)
		} else if taken {
			return canasta.Errorf(canasta.ECONFLICT, "Member %d: a person with source id %q is already registered.", i+1, m.SourceID)
		}
	}
	return nil
}

// createHousehold inserts h and its members, assigning ids and times. A
// source id taken by a concurrent transaction since checkSourceIDs is a
// unique violation, reported as the same conflict.
func createHousehold(ctx context.Context, tx *Tx, h *canasta.Household) error {
	attrs, err := encodeAttributes(h.Attributes)
	if err != nil {
		return err
	}
	id := canasta.NewID(canasta.HouseholdIDPrefix)
	var hid int64
	err = tx.QueryRow(ctx, `INSERT INTO households (id, source_id, line, locality, region, postcode, monthly_income, attributes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING hid`,
		id, nullString(h.SourceID), h.Address.Line, h.Address.Locality, h.Address.Region, h.Address.Postcode,
		h.MonthlyIncome, attrs, tx.now).Scan(&hid)
	if isUniqueViolation(err) {
		return canasta.Errorf(canasta.ECONFLICT, "A household with source id %q is already registered.", h.SourceID)
	} else if err != nil {
		return fmt.Errorf("insert household: %w", err)
	}

	rows := make([][]any, len(h.Members))
	ids := make([]string, len(h.Members))
	for i, m := range h.Members {
		ids[i] = canasta.NewID(canasta.PersonIDPrefix)
		if rows[i], err = personRow(m, ids[i], hid, int32(i+1)); err != nil {
			return err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"persons"}, personTableColumns, pgx.CopyFromRows(rows)); isUniqueViolation(err) {
		return canasta.Errorf(canasta.ECONFLICT, "A member's source id was registered meanwhile by another request; try again.")
	} else if err != nil {
		return fmt.Errorf("insert persons: %w", err)
	}
	h.ID, h.CreatedAt, h.UpdatedAt = id, tx.now, tx.now
	for i, m := range h.Members {
		m.ID, m.HouseholdID = ids[i], id
	}
	return auditHousehold(ctx, tx, canasta.AuditHouseholdCreate, hid, h)
}

// personRow is one row of personTableColumns.
func personRow(m *canasta.Person, id string, hid int64, line int32) ([]any, error) {
	attrs, err := encodeAttributes(m.Attributes)
	if err != nil {
		return nil, err
	}
	return []any{hid, line, id, nullString(m.SourceID), m.GivenName, m.FamilyName, m.BirthDate, string(m.Sex),
		nullString(m.NationalID), m.Relationship, m.Disability, attrs}, nil
}

// householdHID maps a public household id to its row id. ENOTFOUND.
func householdHID(ctx context.Context, q querier, id string) (int64, error) {
	var hid int64
	err := q.QueryRow(ctx, `SELECT hid FROM households WHERE id = $1`, id).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", id)
	} else if err != nil {
		return 0, fmt.Errorf("find household %s: %w", id, err)
	}
	return hid, nil
}

func householdHIDBySourceID(ctx context.Context, q querier, sourceID string) (int64, error) {
	var hid int64
	err := q.QueryRow(ctx, `SELECT hid FROM households WHERE source_id = $1`, sourceID).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		err = q.QueryRow(ctx, `SELECT household_hid FROM persons WHERE source_id = $1`, sourceID).Scan(&hid)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "No household or person has source id %q.", sourceID)
	} else if err != nil {
		return 0, fmt.Errorf("find household by source id: %w", err)
	}
	return hid, nil
}

// findHouseholdByHID loads a household and its members in the order they
// were added.
func findHouseholdByHID(ctx context.Context, q querier, hid int64) (*canasta.Household, error) {
	var (
		h        canasta.Household
		sourceID *string
		attrs    []byte
	)
	err := q.QueryRow(ctx, `SELECT `+householdColumns+` FROM households WHERE hid = $1`, hid).Scan(
		&hid, &h.ID, &sourceID, &h.Address.Line, &h.Address.Locality, &h.Address.Region, &h.Address.Postcode,
		&h.MonthlyIncome, &attrs, &h.CreatedAt, &h.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Household not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find household: %w", err)
	}
	if sourceID != nil {
		h.SourceID = *sourceID
	}
	if h.Attributes, err = decodeAttributes(attrs); err != nil {
		return nil, err
	}
	if h.Members, err = findMembers(ctx, q, hid, h.ID); err != nil {
		return nil, err
	}
	if h.HomePointID, err = findHomePoint(ctx, q, hid); err != nil {
		return nil, err
	}
	return &h, nil
}

func findMembers(ctx context.Context, q querier, hid int64, householdID string) ([]*canasta.Person, error) {
	rows, err := q.Query(ctx, `SELECT `+personColumns+` FROM persons WHERE household_hid = $1 ORDER BY line`, hid)
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	defer rows.Close()
	members := []*canasta.Person{}
	for rows.Next() {
		var (
			p                    canasta.Person
			sex                  string
			sourceID, nationalID *string
			attrs                []byte
		)
		if err := rows.Scan(&p.ID, &sourceID, &p.GivenName, &p.FamilyName, &p.BirthDate, &sex, &nationalID,
			&p.Relationship, &p.Disability, &attrs); err != nil {
			return nil, fmt.Errorf("scan member: %w", err)
		}
		p.HouseholdID, p.Sex = householdID, canasta.Sex(sex)
		if sourceID != nil {
			p.SourceID = *sourceID
		}
		if nationalID != nil {
			p.NationalID = *nationalID
		}
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
// NULL when there are none. The JSON goes as a string: pgx sends a string
// as jsonb's text in every query mode, where []byte would go as bytea to a
// server that has not described the statement (default_query_exec_mode
// exec or simple_protocol, as behind PgBouncer).
func encodeAttributes(m map[string]any) (*string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	s := string(b)
	return &s, nil
}

// decodeAttributes restores the types ValidateHousehold normalised to:
// bool, string, and int64 for every number (int is the only numeric
// attribute type, and float64 would lose digits above 2^53).
func decodeAttributes(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
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
