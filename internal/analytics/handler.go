package analytics

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// NewHandler serves the Aggregator's series as JSON:
//
//	GET /v1/analytics/metrics
//	    {"metrics": [{"name", "unit", "description", "group_by"}...], "group_by": [...]}
//	GET /v1/analytics/series?metric=ctr&group_by=variant&from=RFC3339&to=RFC3339&step=1m
//	    a SeriesResult
//
// For series, metric is required; group_by defaults to none, to to now,
// from to one hour before to, step to 1m (a Go duration, whole minutes). A
// bad parameter is a 400 {"error": "...", "param": "<name>"}. Other paths
// under /v1/analytics/ are 404, other methods 405.
func NewHandler(agg *Aggregator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/analytics/metrics", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		groups := []string{GroupNone, GroupVariant, GroupSource, GroupEventType, GroupFallback}
		writeJSON(w, http.StatusOK, map[string]any{"metrics": Metrics(), "group_by": groups})
	})
	mux.HandleFunc("/v1/analytics/series", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		q := r.URL.Query()
		to := agg.opt.Now()
		if s := q.Get("to"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeParamError(w, "to", "must be an RFC 3339 time, such as 2024-05-01T12:00:00Z")
				return
			}
			to = t
		}
		from := to.Add(-time.Hour)
		if s := q.Get("from"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeParamError(w, "from", "must be an RFC 3339 time, such as 2024-05-01T11:00:00Z")
				return
			}
			from = t
		}
		step := time.Minute
		if s := q.Get("step"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				writeParamError(w, "step", "must be a duration such as 1m, 5m or 1h")
				return
			}
			step = d
		}
		metric := q.Get("metric")
		if metric == "" {
			writeParamError(w, "metric", "is required (GET /v1/analytics/metrics lists the metrics)")
			return
		}
		res, err := agg.Series(metric, q.Get("group_by"), from, to, step)
		if err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				writeParamError(w, pe.Param, pe.Msg)
				return
			}
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	return mux
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	return false
}

type paramErrorBody struct {
	Error string `json:"error"`
	Param string `json:"param"`
}

func writeParamError(w http.ResponseWriter, param, msg string) {
	writeJSON(w, http.StatusBadRequest, paramErrorBody{Error: "bad query parameter " + param + ": " + msg, Param: param})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
