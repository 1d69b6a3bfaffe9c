package loadgen

import (
	"math/rand/v2"
	"strconv"
)

// Synthetic data shared by Run and Prepare. Bodies are built by appending to
// byte slices rather than through encoding/json, because the generator shares
// the machine with the server under test.

// eventMix is the share of each event type in generated traffic.
var eventMix = []struct {
	typ   string
	share float64
}{
	{"view", 0.70},
	{"click", 0.18},
	{"add_to_cart", 0.06},
	{"remove_from_cart", 0.02},
	{"purchase", 0.03},
	{"review", 0.01},
}

// newRand returns a deterministic source for seed and stream.
func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

func pickEventType(r *rand.Rand) string {
	x := r.Float64()
	for _, m := range eventMix {
		if x < m.share {
			return m.typ
		}
		x -= m.share
	}
	return eventMix[0].typ
}

// appendID appends prefix followed by n padded to at least six digits.
func appendID(b []byte, prefix byte, n int) []byte {
	b = append(b, prefix)
	for w := 100_000; w > 1 && n < w; w /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

func userID(n int) string    { return string(appendID(nil, 'u', n)) }
func productID(n int) string { return string(appendID(nil, 'p', n)) }

// mix64 is splitmix64's finaliser, used to derive stable per-id attributes.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// productCategory is the category of product n: products are spread round
// robin over numCategories categories.
func productCategory(n int) int { return n % numCategories }

func appendCategory(b []byte, c int) []byte {
	b = append(b, "cat"...)
	if c < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(c), 10)
}

// productPrice is the stable price of product n, between 5.00 and 499.99.
func productPrice(n int) float64 {
	return 5 + float64(mix64(uint64(n))%49_500)/100
}

// productPicker draws products with a Zipf-like popularity, so a few
// products get most of the traffic, as in a real shop. The popularity rank
// is scrambled so popular products are spread over all categories.
type productPicker struct {
	z *rand.Zipf
	n int
}

func newProductPicker(r *rand.Rand, products int) *productPicker {
	p := &productPicker{n: products}
	if products > 1 {
		p.z = rand.NewZipf(r, 1.1, 1, uint64(products-1))
	}
	return p
}

func (p *productPicker) pick() int {
	if p.z == nil {
		return 0
	}
	rank := p.z.Uint64()
	return int((rank*0x9e3779b1 + 7) % uint64(p.n))
}

// event is one generated event; product and user are indexes into the id spaces.
type event struct {
	user, product int
	typ           string
	session       int64
	tsMillis      int64
	rating        int // review only
}

// appendEvent appends e as one JSON object (no newline).
func appendEvent(b []byte, e event) []byte {
	b = append(b, `{"user_id":"`...)
	b = appendID(b, 'u', e.user)
	b = append(b, `","event_type":"`...)
	b = append(b, e.typ...)
	b = append(b, `","product_id":"`...)
	b = appendID(b, 'p', e.product)
	b = append(b, `","session_id":"s`...)
	b = strconv.AppendInt(b, int64(e.user), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, e.session, 10)
	b = append(b, `","price":`...)
	b = strconv.AppendFloat(b, productPrice(e.product), 'f', 2, 64)
	if e.typ == "review" {
		b = append(b, `,"rating":`...)
		b = strconv.AppendInt(b, int64(e.rating), 10)
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, e.tsMillis, 10)
	return append(b, '}')
}

// eventBatch builds an NDJSON body of n random events stamped around nowMillis.
func eventBatch(r *rand.Rand, pp *productPicker, users, n int, nowMillis int64) []byte {
	b := make([]byte, 0, n*170)
	for range n {
		e := event{
			user:     r.IntN(users),
			product:  pp.pick(),
			typ:      pickEventType(r),
			tsMillis: nowMillis - r.Int64N(1000),
		}
		e.session = e.tsMillis / (30 * 60 * 1000) // a session per user and half hour
		if e.typ == "review" {
			e.rating = 1 + r.IntN(5)
		}
		b = appendEvent(b, e)
		b = append(b, '\n')
	}
	return b
}

// appendProduct appends catalog entry n as one JSON object (no newline).
func appendProduct(b []byte, r *rand.Rand, n int) []byte {
	b = append(b, `{"product_id":"`...)
	b = appendID(b, 'p', n)
	b = append(b, `","name":"Product `...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `","category":"`...)
	b = appendCategory(b, productCategory(n))
	b = append(b, `","price":`...)
	b = strconv.AppendFloat(b, productPrice(n), 'f', 2, 64)
	inventory := 1 + r.IntN(200)
	if r.IntN(100) < 3 {
		inventory = 0 // a few out of stock
	}
	b = append(b, `,"inventory":`...)
	b = strconv.AppendInt(b, int64(inventory), 10)
	b = append(b, `,"margin":`...)
	b = strconv.AppendFloat(b, 0.05+r.Float64()*0.35, 'f', 3, 64)
	b = append(b, `,"promoted":`...)
	b = strconv.AppendBool(b, r.IntN(100) < 2)
	b = append(b, `,"available":true}`...)
	return b
}
