package serve

import (
	"io"
	"net/http"
)

// ExperimentAdmin manages experiments; bodies are JSON, decoded by the
// implementation (which reports bad fields as reco.Invalid).
type ExperimentAdmin interface {
	List() (any, error)
	Get(id string) (any, error)
	Create(body []byte) (any, error)
	Patch(id string, body []byte) (any, error)
	Results(id string) (any, error)
}

func (s *Server) routeExperiments() {
	x := s.opt.Experiments
	if x == nil {
		return
	}
	reply := func(w http.ResponseWriter, code int, v any, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, code, v)
		return nil
	}
	s.route("GET /v1/experiments", "experiments", func(w http.ResponseWriter, r *http.Request) error {
		v, err := x.List()
		return reply(w, http.StatusOK, v, err)
	})
	s.route("GET /v1/experiments/{id}", "experiments", func(w http.ResponseWriter, r *http.Request) error {
		v, err := x.Get(r.PathValue("id"))
		return reply(w, http.StatusOK, v, err)
	})
	s.route("GET /v1/experiments/{id}/results", "experiment_results", func(w http.ResponseWriter, r *http.Request) error {
		v, err := x.Results(r.PathValue("id"))
		return reply(w, http.StatusOK, v, err)
	})
	s.route("POST /v1/experiments", "experiments_admin", s.admin(func(w http.ResponseWriter, r *http.Request) error {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		v, err := x.Create(body)
		return reply(w, http.StatusCreated, v, err)
	}))
	s.route("PATCH /v1/experiments/{id}", "experiments_admin", s.admin(func(w http.ResponseWriter, r *http.Request) error {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		v, err := x.Patch(r.PathValue("id"), body)
		return reply(w, http.StatusOK, v, err)
	}))
}
