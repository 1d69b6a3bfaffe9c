package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/recohq/reco"
)

// FieldError names one bad field of one item of a batch.
type FieldError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every bad field of a refused batch.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var sb strings.Builder
	for i, f := range e.Fields {
		if i == 5 {
			fmt.Fprintf(&sb, "; and %d more", len(e.Fields)-5)
			break
		}
		if i > 0 {
			sb.WriteString("; ")
		}
		switch {
		case f.Index < 0:
			fmt.Fprintf(&sb, "%s: %s", f.Field, f.Message)
		case f.Field == "":
			fmt.Fprintf(&sb, "item %d: %s", f.Index, f.Message)
		default:
			fmt.Fprintf(&sb, "item %d: %s: %s", f.Index, f.Field, f.Message)
		}
	}
	return sb.String()
}

// Limits bound what one request may carry.
type Limits struct {
	MaxItems int // 0 means 10,000
}

func (l Limits) maxItems() int {
	if l.MaxItems <= 0 {
		return 10000
	}
	return l.MaxItems
}

// ID is an identifier sent as a JSON string or integer. It remembers which,
// so that a response can echo it back exactly as sent.
type ID struct {
	S     string
	Form  idForm
	Valid bool
}

type idForm uint8

const (
	idAbsent idForm = iota
	idString
	idNumber
	idOther
)

// UnmarshalJSON never fails: a wrong form is reported by validation with the
// field's name.
func (id *ID) UnmarshalJSON(b []byte) error {
	*id = ID{Form: idOther}
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		var s string
		if bytes.IndexByte(b, '\\') < 0 && len(b) >= 2 {
			s = string(b[1 : len(b)-1])
		} else if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
		*id = ID{S: s, Form: idString, Valid: s != "" && len(s) <= 256}
	case c == '-' || (c >= '0' && c <= '9'):
		if _, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			*id = ID{S: string(b), Form: idNumber, Valid: true}
		}
	}
	return nil
}

// MarshalJSON writes the ID in the form it was sent.
func (id ID) MarshalJSON() ([]byte, error) {
	if id.Form == idNumber {
		return []byte(id.S), nil
	}
	return json.Marshal(id.S)
}

func (id ID) problem() string {
	switch {
	case id.Form == idAbsent:
		return "required"
	case id.Form == idOther:
		return "must be a string or an integer"
	case id.S == "":
		return "must not be empty"
	case !id.Valid:
		return "longer than 256 bytes"
	}
	return ""
}

// Timestamp is a time sent as RFC 3339 text or epoch milliseconds.
type Timestamp struct {
	Ms    int64
	Set   bool
	Valid bool
}

// UnmarshalJSON never fails; validation reports a bad timestamp by name.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	*t = Timestamp{Set: true}
	if len(b) == 0 {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			*t = Timestamp{Ms: tm.UnixMilli(), Set: true, Valid: true}
		}
		return nil
	}
	if f, err := strconv.ParseFloat(string(b), 64); err == nil && f >= 0 && f < 1e15 && f == math.Trunc(f) {
		*t = Timestamp{Ms: int64(f), Set: true, Valid: true}
	}
	return nil
}

type rawEvent struct {
	UserID    ID        `json:"user_id"`
	EventType *string   `json:"event_type"`
	ProductID ID        `json:"product_id"`
	SessionID *string   `json:"session_id"`
	Category  *string   `json:"category"`
	Price     *float64  `json:"price"`
	Quantity  *float64  `json:"quantity"`
	Rating    *float64  `json:"rating"`
	Timestamp Timestamp `json:"timestamp"`
	RequestID *string   `json:"request_id"`
	EventID   *string   `json:"event_id"`
}

type rawProduct struct {
	ProductID  ID                `json:"product_id"`
	Category   *string           `json:"category"`
	Name       *string           `json:"name"`
	Price      *float64          `json:"price"`
	Inventory  *float64          `json:"inventory"`
	Margin     *float64          `json:"margin"`
	Promoted   *bool             `json:"promoted"`
	Available  *bool             `json:"available"`
	Attributes map[string]string `json:"attributes"`
	Timestamp  Timestamp         `json:"timestamp"`
}

// DecodeEvents reads events from body in any of the API's forms: one JSON
// object, a JSON array, or NDJSON. now is the arrival time, used when an
// event has no timestamp. Either every event is valid and all are returned,
// or an error of kind reco.Invalid (a *ValidationError naming each bad index
// and field) or reco.TooLarge is returned and nothing else.
func DecodeEvents(body io.Reader, now time.Time, lim Limits) ([]Event, error) {
	var out []Event
	var fields []FieldError
	err := decodeItems(body, lim, func(i int, dec *json.Decoder) error {
		var r rawEvent
		err := dec.Decode(&r)
		if err != nil && !isTypeError(err) {
			return err
		}
		e, bad := r.validate(i, now)
		fields = append(fields, bad...)
		if len(bad) == 0 && err == nil {
			out = append(out, e)
		}
		return err
	}, &fields)
	if err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		return nil, reco.E("event.DecodeEvents", reco.Invalid, &ValidationError{Fields: fields})
	}
	return out, nil
}

// DecodeProducts reads catalog upserts with the same forms and rules as
// DecodeEvents.
func DecodeProducts(body io.Reader, now time.Time, lim Limits) ([]Product, error) {
	var out []Product
	var fields []FieldError
	err := decodeItems(body, lim, func(i int, dec *json.Decoder) error {
		var r rawProduct
		err := dec.Decode(&r)
		if err != nil && !isTypeError(err) {
			return err
		}
		p, bad := r.validate(i, now)
		fields = append(fields, bad...)
		if len(bad) == 0 && err == nil {
			out = append(out, p)
		}
		return err
	}, &fields)
	if err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		return nil, reco.E("event.DecodeProducts", reco.Invalid, &ValidationError{Fields: fields})
	}
	return out, nil
}

// decodeItems walks the items of body, calling item for each with a decoder
// positioned at it. Type errors inside an item are recorded in fields and
// decoding goes on; a syntax error ends it.
func decodeItems(body io.Reader, lim Limits, item func(i int, dec *json.Decoder) error, fields *[]FieldError) error {
	const op = "event.decode"
	dec := json.NewDecoder(body)
	dec.UseNumber()
	max := lim.maxItems()
	n := 0
	handle := func(err error) error {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "(item)"
			}
			*fields = append(*fields, FieldError{Index: n, Field: field, Message: "must be " + jsonTypeName(te.Type.String())})
			return nil
		}
		return reco.E(op, reco.Invalid, &ValidationError{Fields: []FieldError{{Index: n, Message: "malformed JSON: " + trimJSONErr(err)}}})
	}
	// Peek at the first token to tell an array from objects.
	first, err := firstByte(dec)
	if err != nil {
		return err
	}
	switch first {
	case 0:
		return reco.Errorf(op, reco.Invalid, "empty body")
	case '[':
		if _, err := dec.Token(); err != nil {
			return reco.Errorf(op, reco.Invalid, "malformed JSON: %s", trimJSONErr(err))
		}
		for dec.More() {
			if n >= max {
				return reco.Errorf(op, reco.TooLarge, "batch has more than %d items", max)
			}
			if err := item(n, dec); err != nil {
				if err := handle(err); err != nil {
					return err
				}
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			return reco.Errorf(op, reco.Invalid, "malformed JSON after item %d: %s", n, trimJSONErr(err))
		}
	case '{':
		for {
			if n >= max {
				if _, err := firstByte(dec); err == nil && dec.More() {
					return reco.Errorf(op, reco.TooLarge, "batch has more than %d items", max)
				}
				break
			}
			if err := item(n, dec); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				if err := handle(err); err != nil {
					return err
				}
			}
			n++
		}
	default:
		return reco.Errorf(op, reco.Invalid, "body must be a JSON object, an array of objects, or NDJSON")
	}
	if n == 0 {
		return reco.Errorf(op, reco.Invalid, "no items in body")
	}
	return nil
}

func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// firstByte returns the next non-space byte the decoder will read, 0 at EOF.
func firstByte(dec *json.Decoder) (byte, error) {
	r := dec.Buffered()
	var buf [1]byte
	for {
		n, _ := r.Read(buf[:])
		if n == 0 {
			// Need more input: More() fills the buffer.
			if !dec.More() {
				return 0, nil
			}
			r = dec.Buffered()
			n, _ = r.Read(buf[:])
			if n == 0 {
				return 0, nil
			}
		}
		switch buf[0] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return buf[0], nil
	}
}

func trimJSONErr(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "*float"):
		return "a number"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "map"):
		return "an object of strings"
	}
	return "an object"
}

// maxFutureSkew bounds how far in the future an event time may be.
const maxFutureSkew = 24 * time.Hour

func (r *rawEvent) validate(i int, now time.Time) (Event, []FieldError) {
	var bad []FieldError
	add := func(field, msg string) { bad = append(bad, FieldError{Index: i, Field: field, Message: msg}) }
	e := Event{Price: -1, Quantity: 1, UserID: r.UserID.S, ProductID: r.ProductID.S}
	if p := r.UserID.problem(); p != "" {
		add("user_id", p)
	}
	if r.EventType == nil {
		add("event_type", "required")
	} else if t, ok := ParseType(*r.EventType); !ok {
		add("event_type", fmt.Sprintf("unknown type %q (want view, click, add_to_cart, remove_from_cart, purchase or review)", *r.EventType))
	} else {
		e.Type = t
	}
	if p := r.ProductID.problem(); p != "" {
		add("product_id", p)
	}
	if r.SessionID != nil {
		e.SessionID = *r.SessionID
	}
	if r.Category != nil {
		e.Category = *r.Category
	}
	if r.Price != nil {
		if *r.Price < 0 || math.IsInf(*r.Price, 0) || math.IsNaN(*r.Price) {
			add("price", "must be a number >= 0")
		} else {
			e.Price = *r.Price
		}
	}
	if r.Quantity != nil {
		q := *r.Quantity
		if q < 1 || q != math.Trunc(q) || q > 1e6 {
			add("quantity", "must be an integer >= 1")
		} else {
			e.Quantity = int32(q)
		}
	}
	if r.Rating != nil {
		v := *r.Rating
		switch {
		case e.Type != Review && r.EventType != nil && e.Type != 0:
			add("rating", "only allowed on review events")
		case v < 1 || v > 5 || v != math.Trunc(v):
			add("rating", "must be an integer from 1 to 5")
		default:
			e.Rating = int8(v)
		}
	} else if e.Type == Review {
		add("rating", "required for review events")
	}
	switch {
	case !r.Timestamp.Set:
		e.Time = now.UnixMilli()
	case !r.Timestamp.Valid:
		add("timestamp", "must be RFC 3339 text or epoch milliseconds")
	case r.Timestamp.Ms > now.Add(maxFutureSkew).UnixMilli():
		add("timestamp", "more than 24h in the future")
	default:
		e.Time = r.Timestamp.Ms
	}
	if r.RequestID != nil {
		e.RequestID = *r.RequestID
	}
	if r.EventID != nil {
		if p := eventIDProblem(*r.EventID); p != "" {
			add("event_id", p)
		} else {
			e.SourceKey = *r.EventID
		}
	}
	return e, bad
}

// maxEventID bounds the length of an event_id in bytes.
const maxEventID = 128

// eventIDProblem says what is wrong with a client's idempotency key, or "".
// It must be printable text: no control characters, no spaces other than
// the ASCII space. (The JSON decoder has already replaced invalid UTF-8
// with U+FFFD, which is printable.)
func eventIDProblem(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > maxEventID:
		return fmt.Sprintf("longer than %d bytes", maxEventID)
	}
	for _, c := range id {
		if !unicode.IsPrint(c) {
			return "must be printable text (no control characters)"
		}
	}
	return ""
}

func (r *rawProduct) validate(i int, now time.Time) (Product, []FieldError) {
	var bad []FieldError
	add := func(field, msg string) { bad = append(bad, FieldError{Index: i, Field: field, Message: msg}) }
	p := Product{ID: r.ProductID.S, Attributes: r.Attributes, Time: now.UnixMilli()}
	if pr := r.ProductID.problem(); pr != "" {
		add("product_id", pr)
	}
	if r.Category != nil {
		p.Category = *r.Category
	}
	if r.Name != nil {
		p.Name = *r.Name
	}
	if r.Price != nil {
		if *r.Price < 0 || math.IsNaN(*r.Price) || math.IsInf(*r.Price, 0) {
			add("price", "must be a number >= 0")
		}
		p.Price, p.HasPrice = *r.Price, true
	}
	if r.Inventory != nil {
		v := *r.Inventory
		if v < 0 || v != math.Trunc(v) || v > 1e15 {
			add("inventory", "must be an integer >= 0")
		}
		p.Inventory, p.HasInventory = int64(v), true
	}
	if r.Margin != nil {
		if math.IsNaN(*r.Margin) || math.IsInf(*r.Margin, 0) {
			add("margin", "must be a finite number")
		}
		p.Margin, p.HasMargin = *r.Margin, true
	}
	if r.Promoted != nil {
		p.Promoted, p.HasPromoted = *r.Promoted, true
	}
	if r.Available != nil {
		p.Available, p.HasAvailable = *r.Available, true
	}
	if r.Timestamp.Set {
		if !r.Timestamp.Valid {
			add("timestamp", "must be RFC 3339 text or epoch milliseconds")
		} else {
			p.Time = r.Timestamp.Ms
		}
	}
	return p, bad
}

// MarshalJSON omits the index of a field error that is not about a batch
// item (Index < 0).
func (f FieldError) MarshalJSON() ([]byte, error) {
	type plain FieldError
	if f.Index < 0 {
		return json.Marshal(struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		}{f.Field, f.Message})
	}
	return json.Marshal(plain(f))
}
