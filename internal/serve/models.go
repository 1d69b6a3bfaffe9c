package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/recohq/reco"
)

// ModelAdmin manages model versions.
type ModelAdmin interface {
	Models() (any, error)
	Promote(version string, percent float64) (any, error)
	Rollback() (any, error)
	// StartTraining starts a training run in the background.
	StartTraining(ctx context.Context, promote bool) (any, error)
}

func (s *Server) routeModels() {
	if s.opt.Models == nil {
		return
	}
	m := s.opt.Models
	s.route("GET /v1/models", "models", func(w http.ResponseWriter, r *http.Request) error {
		v, err := m.Models()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
	s.route("POST /v1/models/{version}/promote", "models_admin", s.admin(func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Percent *float64 `json:"percent"`
		}
		if err := decodeOptional(r.Body, &body); err != nil {
			return err
		}
		pct := 100.0
		if body.Percent != nil {
			pct = *body.Percent
		}
		v, err := m.Promote(r.PathValue("version"), pct)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}))
	s.route("POST /v1/models/rollback", "models_admin", s.admin(func(w http.ResponseWriter, r *http.Request) error {
		v, err := m.Rollback()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}))
	s.route("POST /v1/models/train", "models_admin", s.admin(func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Promote *bool `json:"promote"`
		}
		if err := decodeOptional(r.Body, &body); err != nil {
			return err
		}
		v, err := m.StartTraining(context.WithoutCancel(r.Context()), body.Promote == nil || *body.Promote)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, v)
		return nil
	}))
}

// decodeOptional decodes a JSON body that may be empty.
func decodeOptional(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return reco.Errorf("serve.decode", reco.Invalid, "bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// keySet holds API keys as hashes, compared in constant time.
type keySet [][32]byte

func newKeySet(keys []string) keySet {
	var ks keySet
	for _, k := range keys {
		if k != "" {
			ks = append(ks, sha256.Sum256([]byte(k)))
		}
	}
	return ks
}

func (ks keySet) has(key string) bool {
	h := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range ks {
		ok |= subtle.ConstantTimeCompare(h[:], k[:])
	}
	return ok == 1
}

var (
	errNoKey    = reco.E("serve.auth", reco.Unauthenticated, errors.New("missing API key: send Authorization: Bearer KEY"))
	errWrongKey = reco.E("serve.auth", reco.Forbidden, errors.New("this API key may not call this endpoint"))
)

// authorize checks the bearer key against the allowed sets. No configured
// keys at all leaves the endpoint open.
func authorize(r *http.Request, sets ...keySet) error {
	any := false
	for _, s := range sets {
		if len(s) > 0 {
			any = true
		}
	}
	if !any {
		return nil
	}
	h := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || key == "" {
		return errNoKey
	}
	for _, s := range sets {
		if s.has(key) {
			return nil
		}
	}
	return errWrongKey
}

func (s *Server) admin(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := authorize(r, s.adminKeys); err != nil {
			return err
		}
		return h(w, r)
	}
}

// ingest guards the ingest endpoints: open unless ingest keys are
// configured; then an ingest or an admin key is needed.
func (s *Server) ingest(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if len(s.ingestKeys) > 0 {
			if err := authorize(r, s.ingestKeys, s.adminKeys); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}
