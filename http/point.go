package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

type pointRequest struct {
	Name   string            `json:"name"`
	Kind   canasta.PointKind `json:"kind"`
	Region string            `json:"region"`
}

func (s *Server) handleCreatePoint(w http.ResponseWriter, r *http.Request) error {
	var req pointRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := &canasta.Point{Name: req.Name, Kind: req.Kind, Region: req.Region}
	if err := s.PointService.CreatePoint(r.Context(), p); err != nil {
		return fmt.Errorf("create point: %w", err)
	}
	s.writeJSON(w, r, http.StatusCreated, p)
	return nil
}

func (s *Server) handleFindPoints(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.PointService.FindPoints(r.Context())
	if err != nil {
		return fmt.Errorf("find points: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Points []*canasta.Point `json:"points"`
	}{nonNil(ps)})
	return nil
}
