package gbdt

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

// needXGBoost returns the python interpreter that has xgboost. It skips the
// test when RECO_TEST_XGBOOST is unset and xgboost is unavailable, and fails
// it when RECO_TEST_XGBOOST is set.
func needXGBoost(t testing.TB) string {
	t.Helper()
	if err := exec.Command(python, "-c", "import xgboost, sklearn").Run(); err != nil {
		if os.Getenv("RECO_TEST_XGBOOST") != "" {
			t.Fatalf("RECO_TEST_XGBOOST is set but %s cannot import xgboost: %v", python, err)
		}
		t.Skipf("xgboost not available (%v); set RECO_TEST_XGBOOST=1 to require it", err)
	}
	return python
}

// xgbTool runs testdata/xgbtool.py and decodes its JSON output.
func xgbTool(t testing.TB, args ...string) map[string]any {
	t.Helper()
	py := needXGBoost(t)
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "xgbtool.py")}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xgbtool %v: %v\n%s", args, err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("xgbtool %v: decode %q: %v", args, out, err)
	}
	return res
}

// readCSV reads the CSV layout xgbtool.py writes: features, label, optional qid.
func readCSV(t testing.TB, path string) *Dataset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	sc.Scan()
	header := strings.Split(strings.TrimSpace(sc.Text()), ",")
	li, qi := -1, -1
	var names []string
	for i, h := range header {
		switch h {
		case "label":
			li = i
		case "qid":
			qi = i
		default:
			names = append(names, h)
		}
	}
	d := &Dataset{Features: len(names), FeatureNames: names}
	lastQ, have := 0, false
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		for i, s := range fields {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			switch i {
			case li:
				d.Labels = append(d.Labels, float32(v))
			case qi:
				if q := int(v); !have || q != lastQ {
					d.Groups = append(d.Groups, 0)
					lastQ, have = q, true
				}
				d.Groups[len(d.Groups)-1]++
			default:
				d.X = append(d.X, float32(v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

func readFloats(t testing.TB, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func maxAbsDiff(a, b []float64) (float64, int) {
	m, at := 0.0, -1
	for i := range a {
		if d := math.Abs(a[i] - b[i]); d > m || math.IsNaN(d) {
			m, at = d, i
		}
	}
	return m, at
}
