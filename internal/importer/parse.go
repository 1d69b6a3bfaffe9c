package importer

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/recohq/reco/internal/event"
)

// Formats lists the formats Parse reads.
var Formats = []string{"online-retail", "taobao", "ndjson", "csv"}

// Options configure Parse.
type Options struct {
	Format string
	// Map maps event fields to CSV columns for the csv format: user_id,
	// product_id, timestamp, event_type, price, quantity, category,
	// session_id. A value "const:X" is the constant X for every row.
	Map map[string]string
	// IncludeTest imports the Taobao rows with split = test too.
	IncludeTest bool
	// Now stamps NDJSON events without a timestamp; zero means time.Now().
	Now time.Time
	// KeyPrefix starts each event's SourceKey: "<prefix>:<line>".
	KeyPrefix string
}

// Row is the outcome of one data row.
type Row struct {
	Line    int            // 1-based line number in the (decompressed) file
	Event   *event.Event   // nil when rejected or malformed
	Product *event.Product // a catalog upsert that goes with the row, if any
	Reject  string         // why the format's rules filter the row out
	Err     error          // why the row is malformed
	Split   string         // Taobao: the row's split column ("train" or "test")
}

// TaobaoEpoch is the synthetic time of the first Taobao row: the data has
// no timestamps (see taobaoTime).
var TaobaoEpoch = time.Date(2017, 11, 25, 0, 0, 0, 0, time.UTC)

// Decompress returns r, gunzipped when it starts with the gzip magic bytes.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// Parse reads r (gzip or plain) in the given format and calls fn for every
// data row in file order. An error from fn, a read error or ctx ending
// stops it; a malformed row does not (it is passed to fn with Err set).
func Parse(ctx context.Context, r io.Reader, o Options, fn func(Row) error) error {
	in, err := Decompress(r)
	if err != nil {
		return err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	switch o.Format {
	case "online-retail":
		return parseRetail(ctx, in, o, fn)
	case "taobao":
		return parseTaobao(ctx, in, o, fn)
	case "ndjson":
		return parseNDJSON(ctx, in, o, fn)
	case "csv":
		return parseCSV(ctx, in, o, fn)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", o.Format, strings.Join(Formats, ", "))
}

func (o Options) key(line int) string {
	if o.KeyPrefix == "" {
		return ""
	}
	return o.KeyPrefix + ":" + strconv.Itoa(line)
}

// csvRows walks a CSV/TSV file: the header, then each record with its line.
type csvRows struct {
	r      *csv.Reader
	header map[string]int
	names  []string
}

func newCSVRows(in io.Reader, comma rune) (*csvRows, error) {
	r := csv.NewReader(in)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.LazyQuotes = false
	h, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: no header")
		}
		return nil, fmt.Errorf("line 1: header: %w", err)
	}
	c := &csvRows{r: r, header: map[string]int{}}
	for i, name := range h {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		c.header[name] = i
		c.names = append(c.names, name)
	}
	return c, nil
}

func (c *csvRows) need(cols ...string) error {
	var missing []string
	for _, col := range cols {
		if _, ok := c.header[col]; !ok {
			missing = append(missing, col)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("header lacks column(s) %s (has %s)", strings.Join(missing, ", "), strings.Join(c.names, ", "))
	}
	return nil
}

// each calls fn per record; a record csv cannot parse becomes a malformed
// row and reading goes on where the csv package can.
func (c *csvRows) each(ctx context.Context, fn func(line int, rec []string) error, bad func(line int, err error) error) error {
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := c.r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if e := bad(pe.StartLine, errors.New(pe.Err.Error())); e != nil {
					return e
				}
				continue
			}
			return err
		}
		if len(rec) != len(c.names) {
			if e := bad(line, fmt.Errorf("%d fields, the header has %d", len(rec), len(c.names))); e != nil {
				return e
			}
			continue
		}
		if err := fn(line, rec); err != nil {
			return err
		}
	}
}

// ParseTime reads RFC 3339, epoch milliseconds, or "2006-01-02 15:04:05"
// (UTC) into Unix milliseconds.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty")
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return ms, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("%q is not RFC 3339, epoch milliseconds or YYYY-MM-DD HH:MM:SS", s)
}

func parseRetail(ctx context.Context, in io.Reader, o Options, fn func(Row) error) error {
	c, err := newCSVRows(in, ',')
	if err != nil {
		return err
	}
	if err := c.need("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"); err != nil {
		return err
	}
	iInv, iCode, iDesc, iQty, iDate, iPrice, iCust := c.header["InvoiceNo"], c.header["StockCode"], c.header["Description"],
		c.header["Quantity"], c.header["InvoiceDate"], c.header["UnitPrice"], c.header["CustomerID"]
	seen := map[string]bool{}
	bad := func(line int, err error) error { return fn(Row{Line: line, Err: err}) }
	return c.each(ctx, func(line int, rec []string) error {
		inv, code, cust := strings.TrimSpace(rec[iInv]), strings.TrimSpace(rec[iCode]), strings.TrimSpace(rec[iCust])
		if strings.HasPrefix(inv, "C") {
			return fn(Row{Line: line, Reject: "cancellation"})
		}
		qty, err := strconv.ParseFloat(strings.TrimSpace(rec[iQty]), 64)
		if err != nil {
			return bad(line, fmt.Errorf("Quantity %q is not a number", rec[iQty]))
		}
		if qty <= 0 {
			return fn(Row{Line: line, Reject: "quantity <= 0"})
		}
		if cust == "" || cust == "NA" {
			return fn(Row{Line: line, Reject: "no customer"})
		}
		if code == "" {
			return bad(line, errors.New("StockCode is empty"))
		}
		price, err := strconv.ParseFloat(strings.TrimSpace(rec[iPrice]), 64)
		if err != nil {
			return bad(line, fmt.Errorf("UnitPrice %q is not a number", rec[iPrice]))
		}
		if price < 0 {
			return fn(Row{Line: line, Reject: "negative price"})
		}
		t, err := time.Parse("2006-01-02 15:04:05", strings.TrimSpace(rec[iDate]))
		if err != nil {
			return bad(line, fmt.Errorf("InvoiceDate %q is not YYYY-MM-DD HH:MM:SS", rec[iDate]))
		}
		if qty > 1<<30 {
			qty = 1 << 30
		}
		desc := strings.TrimSpace(rec[iDesc])
		if desc == "NA" {
			desc = ""
		}
		cat := RetailCategory(desc)
		// CustomerID comes as 17850 or 17850.0 depending on the export.
		cust = strings.TrimSuffix(cust, ".0")
		row := Row{Line: line, Event: &event.Event{
			Type: event.Purchase, UserID: cust, ProductID: code, Category: cat,
			Price: price, Quantity: int32(qty), Time: t.UnixMilli(), SourceKey: o.key(line),
		}}
		if !seen[code] {
			seen[code] = true
			row.Product = &event.Product{ID: code, Category: cat, Name: desc, Price: price, HasPrice: true,
				Available: true, Time: t.UnixMilli()}
		}
		return fn(row)
	}, bad)
}

// retailSkip are words that end a Description without naming the kind of
// thing: colours, sizes, materials and set words.
var retailSkip = map[string]bool{
	"red": true, "pink": true, "blue": true, "green": true, "white": true, "black": true, "ivory": true,
	"cream": true, "gold": true, "silver": true, "purple": true, "orange": true, "yellow": true, "brown": true,
	"grey": true, "natural": true, "small": true, "large": true, "medium": true, "mini": true, "jumbo": true,
	"big": true, "giant": true, "set": true, "sets": true, "of": true, "design": true, "assorted": true,
	"asst": true, "colour": true, "colours": true, "vintage": true, "retrospot": true, "polkadot": true,
	"spotty": true, "and": true, "with": true, "in": true, "the": true, "a": true, "s": true, "w": true,
	"wooden": true, "glass": true, "metal": true, "zinc": true, "ceramic": true, "paper": true, "tin": true,
}

// RetailCategory derives a category from an Online Retail Description:
// the last word that is not a colour, size, material or set word (a table
// of about 50), lower-cased, letters only, with a plural "s"/"es"/"ies"
// folded ("HEART T-LIGHT HOLDERS" -> "holder"). "" when nothing is left.
func RetailCategory(desc string) string {
	words := strings.FieldsFunc(strings.ToLower(desc), func(r rune) bool { return r < 'a' || r > 'z' })
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		if len(w) < 3 || retailSkip[w] {
			continue
		}
		return singular(w)
	}
	return ""
}

func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}

// taobaoTime is the synthetic time of a Taobao row. The file has no
// timestamps and its row order is not time, but it is grouped by
// behaviour: every training view, then every training cart, then every
// training buy, then the test rows. Each row's time is TaobaoEpoch + its
// line number in seconds, so every user's buys come after their carts,
// which come after their views (the funnel order), and held-out rows come
// after all training rows. Within a behaviour the order is by user, then
// item id: it carries no recency signal, so recency-based features are
// meaningless on this data set (as the data's README says).
func taobaoTime(line int) int64 {
	return TaobaoEpoch.UnixMilli() + int64(line)*1000
}

func parseTaobao(ctx context.Context, in io.Reader, o Options, fn func(Row) error) error {
	c, err := newCSVRows(in, '\t')
	if err != nil {
		return err
	}
	if err := c.need("user", "item", "behavior", "split"); err != nil {
		return err
	}
	iu, ii, ib, is := c.header["user"], c.header["item"], c.header["behavior"], c.header["split"]
	bad := func(line int, err error) error { return fn(Row{Line: line, Err: err}) }
	return c.each(ctx, func(line int, rec []string) error {
		var t event.Type
		switch rec[ib] {
		case "view":
			t = event.View
		case "cart":
			t = event.AddToCart
		case "buy":
			t = event.Purchase
		default:
			return bad(line, fmt.Errorf("behavior %q is not view, cart or buy", rec[ib]))
		}
		switch rec[is] {
		case "train":
		case "test":
			if !o.IncludeTest {
				return fn(Row{Line: line, Reject: "test split"})
			}
		default:
			return bad(line, fmt.Errorf("split %q is not train or test", rec[is]))
		}
		if rec[iu] == "" || rec[ii] == "" {
			return bad(line, errors.New("empty user or item"))
		}
		return fn(Row{Line: line, Split: rec[is], Event: &event.Event{Type: t, UserID: rec[iu], ProductID: rec[ii], Price: -1,
			Quantity: 1, Time: taobaoTime(line), SourceKey: o.key(line)}})
	}, bad)
}

func parseNDJSON(ctx context.Context, in io.Reader, o Options, fn func(Row) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		evs, err := event.DecodeEvents(strings.NewReader(string(b)), o.Now, event.Limits{MaxItems: 1})
		if err != nil {
			if err := fn(Row{Line: line, Err: err}); err != nil {
				return err
			}
			continue
		}
		e := evs[0]
		e.SourceKey = o.key(line)
		if err := fn(Row{Line: line, Event: &e}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// MapFields are the event fields a csv --map may name.
var MapFields = []string{"user_id", "product_id", "timestamp", "event_type", "price", "quantity", "category", "session_id"}

// ParseMap reads "field=Column,field=const:value,...".
func ParseMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("--map: %q is not field=Column", part)
		}
		k = strings.TrimSpace(k)
		if !contains(MapFields, k) {
			return nil, fmt.Errorf("--map: unknown field %q (want %s)", k, strings.Join(MapFields, ", "))
		}
		m[k] = strings.TrimSpace(v)
	}
	for _, req := range []string{"user_id", "product_id", "event_type"} {
		if _, ok := m[req]; !ok {
			return nil, fmt.Errorf("--map: %s is required", req)
		}
	}
	return m, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// parseCSV maps columns to the API's event fields and validates each row
// with event.DecodeEvents, so that a row is accepted exactly when the API
// would accept it.
func parseCSV(ctx context.Context, in io.Reader, o Options, fn func(Row) error) error {
	if o.Map == nil {
		return errors.New("csv format needs --map")
	}
	c, err := newCSVRows(in, ',')
	if err != nil {
		return err
	}
	type src struct {
		field string
		col   int // -1: constant
		val   string
	}
	var srcs []src
	var missing []string
	fields := make([]string, 0, len(o.Map))
	for f := range o.Map {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		v := o.Map[f]
		if cv, ok := strings.CutPrefix(v, "const:"); ok {
			srcs = append(srcs, src{f, -1, cv})
			continue
		}
		i, ok := c.header[v]
		if !ok {
			missing = append(missing, v)
			continue
		}
		srcs = append(srcs, src{f, i, ""})
	}
	if len(missing) > 0 {
		return fmt.Errorf("--map names column(s) %s not in the header (%s)", strings.Join(missing, ", "), strings.Join(c.names, ", "))
	}
	bad := func(line int, err error) error { return fn(Row{Line: line, Err: err}) }
	obj := map[string]any{}
	return c.each(ctx, func(line int, rec []string) error {
		clear(obj)
		for _, s := range srcs {
			v := s.val
			if s.col >= 0 {
				v = strings.TrimSpace(rec[s.col])
			}
			if v == "" {
				continue // absent: DecodeEvents reports required ones
			}
			switch s.field {
			case "timestamp":
				ms, err := ParseTime(v)
				if err != nil {
					return bad(line, fmt.Errorf("timestamp: %w", err))
				}
				obj["timestamp"] = ms
			case "price", "quantity":
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return bad(line, fmt.Errorf("%s: %q is not a number", s.field, v))
				}
				obj[s.field] = f
			default:
				obj[s.field] = v
			}
		}
		b, _ := json.Marshal(obj)
		evs, err := event.DecodeEvents(strings.NewReader(string(b)), o.Now, event.Limits{MaxItems: 1})
		if err != nil {
			return bad(line, err)
		}
		e := evs[0]
		e.SourceKey = o.key(line)
		return fn(Row{Line: line, Event: &e})
	}, bad)
}
