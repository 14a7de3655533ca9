package canasta

import (
	"context"
	"strings"
	"time"
)

// PointKind is what sort of place a point is.
type PointKind string

const (
	PointShop   PointKind = "shop"
	PointClinic PointKind = "clinic"
	PointFuel   PointKind = "fuel"
	PointOther  PointKind = "other"
)

// Point is a place where households redeem: a shop, clinic or fuel station.
type Point struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Kind      PointKind `json:"kind"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a point's fields.
func (p *Point) Validate() error {
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 200 {
		return Errorf(EINVALID, "Point name is required (at most 200 bytes).")
	}
	switch p.Kind {
	case PointShop, PointClinic, PointFuel, PointOther:
	default:
		return Errorf(EINVALID, "Point kind must be shop, clinic, fuel or other, not %q.", string(p.Kind))
	}
	if strings.TrimSpace(p.Region) == "" || len(p.Region) > 200 {
		return Errorf(EINVALID, "Point region is required.")
	}
	return nil
}

// PointService registers points.
type PointService interface {
	// CreatePoint validates and stores p. Admins only. EINVALID.
	CreatePoint(ctx context.Context, p *Point) error
	// FindPointByID returns a point. ENOTFOUND if none.
	FindPointByID(ctx context.Context, id int64) (*Point, error)
	// FindPoints lists all points.
	FindPoints(ctx context.Context) ([]*Point, error)
}
