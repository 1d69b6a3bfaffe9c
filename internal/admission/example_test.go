package admission_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/recohq/reco/internal/admission"
)

func ExampleLimiter_Middleware() {
	l, err := admission.New(admission.Options{Initial: 10})
	if err != nil {
		panic(err)
	}
	recommend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"recommendations":[]}`)
	})
	h := l.Middleware(recommend, admission.PriorityFromHeader)

	// Seven requests in flight: Low may use 70% of the limit of 10.
	for range 7 {
		l.Acquire(admission.High)
	}
	for _, p := range []string{"low", "normal"} {
		req := httptest.NewRequest("POST", "/v1/recommend", nil)
		req.Header.Set("X-Priority", p)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("Retry-After"), " ", rec.Body)
	}
	// Output:
	// 503 1 {"error":"overloaded: shed (priority low)"}
	// 200  {"recommendations":[]}
}
