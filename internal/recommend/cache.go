package recommend

import (
	"context"
	"sync"
	"time"

	"github.com/recohq/reco/internal/feature"
)

// FallibleStore is a Store whose reads can fail (a remote online store).
// When a Store implements it, the service reads through it and degrades on
// errors: to a local cache of recently read values, then to popular items.
type FallibleStore interface {
	ReadUser(ctx context.Context, id string) (*feature.User, error) // nil, nil when unknown
	ReadProducts(ctx context.Context, ids []string, out []*feature.Product) error
}

// localCache keeps recently read users and products for when the online
// store is unavailable (the case study's "local feature caching"). Bounded:
// past Max entries of a kind, a tenth is dropped at random.
type localCache struct {
	mu       sync.Mutex
	max      int
	ttl      time.Duration
	users    map[string]cachedUser
	products map[string]cachedProduct
}

type cachedUser struct {
	u  *feature.User
	at time.Time
}

type cachedProduct struct {
	p  *feature.Product
	at time.Time
}

func newLocalCache(max int, ttl time.Duration) *localCache {
	return &localCache{max: max, ttl: ttl, users: map[string]cachedUser{}, products: map[string]cachedProduct{}}
}

func (c *localCache) putUser(u *feature.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.users) >= c.max {
		shrink(c.users, c.max/10)
	}
	c.users[u.ID] = cachedUser{u, now}
}

func (c *localCache) user(id string, now time.Time) (*feature.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users[id]
	if !ok || now.Sub(e.at) > c.ttl {
		return nil, false
	}
	return e.u, true
}

func (c *localCache) putProducts(ps []*feature.Product, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		if p == nil {
			continue
		}
		if len(c.products) >= c.max {
			shrink(c.products, c.max/10)
		}
		c.products[p.ID] = cachedProduct{p, now}
	}
}

// products fills out from the cache; it reports how many it found.
func (c *localCache) productsInto(ids []string, out []*feature.Product, now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i, id := range ids {
		out[i] = nil
		if e, ok := c.products[id]; ok && now.Sub(e.at) <= c.ttl {
			out[i] = e.p
			n++
		}
	}
	return n
}

// shrink deletes about n entries (map iteration order is random).
func shrink[V any](m map[string]V, n int) {
	for k := range m {
		if n <= 0 {
			return
		}
		delete(m, k)
		n--
	}
}
