package modelcli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"

	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// table is a data file read into memory: a row-major float32 matrix with
// NaN for missing values, plus labels and query groups when present.
type table struct {
	names  []string // feature column names; nil for LibSVM
	x      []float32
	nf     int
	labels []float32 // nil when the file has no label column
	groups []int     // query sizes in row order; nil without a qid/group column
}

func (t *table) rows() int {
	if t.nf == 0 {
		return 0
	}
	return len(t.x) / t.nf
}

// readTable reads CSV (with a header) or LibSVM, chosen by extension
// (.libsvm, .svm, .txt) or, failing that, by content.
func readTable(path string, needLabel bool) (*table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read %s: no such file", path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var t *table
	if isLibSVM(path, data) {
		t, err = parseLibSVM(data)
	} else {
		t, err = parseCSV(data, needLabel)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if t.rows() == 0 {
		return nil, fmt.Errorf("read %s: no data rows", path)
	}
	return t, nil
}

func isLibSVM(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".libsvm", ".svm":
		return true
	case ".csv":
		return false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || strings.Contains(string(line), ",") {
		return false
	}
	return strings.Contains(fields[1], ":")
}

// groupTracker turns a qid column into group sizes, requiring each query's
// rows to be contiguous.
type groupTracker struct {
	sizes []int
	seen  map[int64]bool
	last  int64
}

func (g *groupTracker) add(q int64, line int) error {
	if len(g.sizes) > 0 && q == g.last {
		g.sizes[len(g.sizes)-1]++
		return nil
	}
	if g.seen == nil {
		g.seen = map[int64]bool{}
	}
	if g.seen[q] {
		return fmt.Errorf("line %d: query %d is not contiguous (sort rows by qid)", line, q)
	}
	g.seen[q] = true
	g.last = q
	g.sizes = append(g.sizes, 1)
	return nil
}

func parseCSV(data []byte, needLabel bool) (*table, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	if !sc.Scan() {
		return nil, errors.New("empty file")
	}
	header := splitCSV(strings.TrimSuffix(sc.Text(), "\r"))
	labelCol, groupCol := -1, -1
	var names []string
	var featCols []int
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch strings.ToLower(h) {
		case "label":
			labelCol = i
		case "qid", "group":
			groupCol = i
		default:
			names = append(names, h)
			featCols = append(featCols, i)
		}
	}
	if needLabel && labelCol < 0 {
		return nil, fmt.Errorf("no label column in header %q", strings.Join(header, ","))
	}
	if len(featCols) == 0 {
		return nil, errors.New("no feature columns")
	}
	t := &table{names: names, nf: len(featCols)}
	var groups groupTracker
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		cells := splitCSV(text)
		if len(cells) != len(header) {
			return nil, fmt.Errorf("line %d: %d columns, header has %d", line, len(cells), len(header))
		}
		for j, c := range featCols {
			v, err := parseCell(cells[c])
			if err != nil {
				return nil, fmt.Errorf("line %d column %d (%s): bad number %q", line, c+1, names[j], cells[c])
			}
			t.x = append(t.x, v)
		}
		if labelCol >= 0 {
			v, err := parseCell(cells[labelCol])
			if err != nil || v != v {
				return nil, fmt.Errorf("line %d column %d (label): bad label %q", line, labelCol+1, cells[labelCol])
			}
			t.labels = append(t.labels, v)
		}
		if groupCol >= 0 {
			q, err := strconv.ParseInt(strings.TrimSpace(cells[groupCol]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d column %d (%s): bad query id %q", line, groupCol+1, header[groupCol], cells[groupCol])
			}
			if err := groups.add(q, line); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	t.groups = groups.sizes
	return t, nil
}

// splitCSV splits one line on commas; quoted fields may contain commas.
func splitCSV(line string) []string {
	if !strings.Contains(line, `"`) {
		return strings.Split(line, ",")
	}
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"' && quoted && i+1 < len(line) && line[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// parseCell parses a number; an empty cell, "nan" or "NA" is missing.
func parseCell(s string) (float32, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "nan", "na":
		return float32(math.NaN()), nil
	}
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 0, err
	}
	return float32(v), nil
}

// parseLibSVM reads "label [qid:Q] idx:val ..." lines. Indices are column
// numbers (0-based, as XGBoost reads them); absent entries are missing.
func parseLibSVM(data []byte) (*table, error) {
	type entry struct {
		col int
		v   float32
	}
	var rows [][]entry
	var labels []float32
	var groups groupTracker
	hasQID := false
	maxCol := -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		y, err := strconv.ParseFloat(fields[0], 32)
		if err != nil {
			return nil, fmt.Errorf("line %d column 1 (label): bad label %q", line, fields[0])
		}
		labels = append(labels, float32(y))
		var row []entry
		for k, f := range fields[1:] {
			name, val, ok := strings.Cut(f, ":")
			if !ok {
				return nil, fmt.Errorf("line %d column %d: %q is not index:value", line, k+2, f)
			}
			if name == "qid" {
				q, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("line %d column %d (qid): bad query id %q", line, k+2, val)
				}
				if err := groups.add(q, line); err != nil {
					return nil, err
				}
				hasQID = true
				continue
			}
			col, err := strconv.Atoi(name)
			if err != nil || col < 0 || col >= 1<<16 {
				return nil, fmt.Errorf("line %d column %d: bad feature index %q", line, k+2, name)
			}
			v, err := strconv.ParseFloat(val, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d column %d: bad number %q", line, k+2, val)
			}
			row = append(row, entry{col, float32(v)})
			maxCol = max(maxCol, col)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if hasQID && len(groups.sizes) > 0 {
		total := 0
		for _, s := range groups.sizes {
			total += s
		}
		if total != len(rows) {
			return nil, errors.New("qid given on some lines only")
		}
	}
	t := &table{nf: maxCol + 1, labels: labels, groups: groups.sizes}
	if t.nf == 0 {
		t.nf = 1
	}
	t.x = make([]float32, len(rows)*t.nf)
	for i := range t.x {
		t.x[i] = float32(math.NaN())
	}
	for r, row := range rows {
		for _, e := range row {
			t.x[r*t.nf+e.col] = e.v
		}
	}
	return t, nil
}
