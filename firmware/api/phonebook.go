package api

import (
	"context"
	"net/http"

	"github.com/deskphone/phone/firmware/phonebook"
)

func (s *Server) phonebookRoutes(mux *http.ServeMux) {
	a := s.cfg.Actions
	s.handle(mux, "GET /api/phonebook", func(ctx context.Context, _ *http.Request, _ []byte) (int, any, error) {
		es, err := a.Phonebook(ctx)
		if err != nil {
			return 0, nil, err
		}
		if es == nil {
			es = []phonebook.Entry{}
		}
		return http.StatusOK, map[string][]phonebook.Entry{"entries": es}, nil
	})
	s.handle(mux, "GET /api/phonebook/{id}", func(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
		e, err := a.PhonebookEntry(ctx, r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, e, nil
	})
	s.handle(mux, "POST /api/phonebook", func(ctx context.Context, _ *http.Request, body []byte) (int, any, error) {
		e, err := entryBody(body)
		if err != nil {
			return 0, nil, err
		}
		if e, err = a.AddPhonebook(ctx, e); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, e, nil
	})
	s.handle(mux, "PUT /api/phonebook/{id}", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		e, err := entryBody(body)
		if err != nil {
			return 0, nil, err
		}
		if e, err = a.UpdatePhonebook(ctx, r.PathValue("id"), e); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, e, nil
	})
	s.handle(mux, "DELETE /api/phonebook/{id}", func(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
		if err := a.DeletePhonebook(ctx, r.PathValue("id")); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, okBody, nil
	})
}

// entryBody decodes a phonebook entry; the body is required.
func entryBody(body []byte) (phonebook.Entry, error) {
	var e phonebook.Entry
	if len(body) == 0 {
		return e, errMissing
	}
	err := decode(body, &e)
	return e, err
}
