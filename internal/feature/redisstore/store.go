package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/breaker"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
)

// Options configure a Store.
type Options struct {
	Addresses []string // host:port; more than one means Redis Cluster
	Prefix    string   // key prefix; "" means "reco:"
	// Timeout bounds each read; 0 means 50ms.
	Timeout time.Duration
	Now     func() time.Time
	// OnBreaker is told when the circuit breaker around Redis opens or
	// closes (after 5 consecutive failures it fails fast for 1 s, then
	// probes).
	OnBreaker func(open bool)
}

// Store reads and writes the online state in Redis. Safe for concurrent use.
type Store struct {
	c     rueidis.Client
	opt   Options
	guard *rueidis.Lua
	index atomic.Pointer[memstore.Index]
	errs  atomic.Int64
	br    *breaker.Breaker
}

// Open connects and checks the server answers.
func Open(ctx context.Context, o Options) (*Store, error) {
	if len(o.Addresses) == 0 {
		return nil, reco.Errorf("redisstore.Open", reco.Invalid, "no addresses")
	}
	if o.Prefix == "" {
		o.Prefix = "reco:"
	}
	if o.Timeout == 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: o.Addresses, DisableCache: true,
		ConnWriteTimeout: 2 * time.Second, Dialer: netDialer()})
	if err != nil {
		return nil, reco.E("redisstore.Open", reco.Unavailable, fmt.Errorf("connect to redis %v: %w", o.Addresses, err))
	}
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		c.Close()
		return nil, reco.E("redisstore.Open", reco.Unavailable, fmt.Errorf("ping redis %v: %w", o.Addresses, err))
	}
	s := &Store{c: c, opt: o, guard: rueidis.NewLuaScript(guardScript), br: breaker.New(5, time.Second, o.Now, o.OnBreaker)}
	s.index.Store(&memstore.Index{ByCategory: map[string][]memstore.Scored{}})
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() { s.c.Close() }

// Keys. The {id} hash tag keeps a key's fields in one slot; every key is
// written and read on its own, so a cluster needs no cross-slot commands.
func (s *Store) userKey(id string) string    { return s.opt.Prefix + "u:{" + id + "}" }
func (s *Store) productKey(id string) string { return s.opt.Prefix + "p:{" + id + "}" }
func (s *Store) covKey(id string) string     { return s.opt.Prefix + "c:{" + id + "}" }
func (s *Store) indexKey() string            { return s.opt.Prefix + "index" }

// guardScript writes v and o to KEYS[1] unless the stored offsets are
// ahead: o is a comma-separated offset vector, and the new one must be >=
// the stored one in every position. Returns 1 when written, 0 when refused.
const guardScript = `
local cur = redis.call('HGET', KEYS[1], 'o')
if cur then
  local new = {}
  for n in string.gmatch(ARGV[2], '[^,]+') do new[#new + 1] = tonumber(n) end
  local i = 1
  for n in string.gmatch(cur, '[^,]+') do
    if new[i] == nil or new[i] < tonumber(n) then return 0 end
    i = i + 1
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'o', ARGV[2])
return 1
`

// Batch is what one flush writes: the values as of Offsets.
type Batch struct {
	Offsets  []int64 // per partition: every record below is reflected
	Users    []*feature.User
	UserPart []int // the partition of each user (its key is guarded by that offset alone)
	Products []*feature.Product
	CoVisit  map[string][]memstore.Scored // item -> its whole neighbour list
	Index    *memstore.Index              // nil: unchanged
}

// WriteStats count what a Write did.
type WriteStats struct {
	Written, Refused int
}

// Write upserts a batch; keys whose stored offsets are ahead keep their
// values (a replay after a crash). Writes are pipelined in chunks.
func (s *Store) Write(ctx context.Context, b Batch) (WriteStats, error) {
	var st WriteStats
	vec := joinOffsets(b.Offsets)
	var execs []rueidis.LuaExec
	flush := func() error {
		if len(execs) == 0 {
			return nil
		}
		for _, r := range s.guard.ExecMulti(ctx, s.c, execs...) {
			n, err := r.AsInt64()
			if err != nil {
				return reco.E("redisstore.Write", reco.Unavailable, err)
			}
			if n == 1 {
				st.Written++
			} else {
				st.Refused++
			}
		}
		execs = execs[:0]
		return nil
	}
	add := func(key string, val []byte, offs string) error {
		execs = append(execs, rueidis.LuaExec{Keys: []string{key}, Args: []string{string(val), offs}})
		if len(execs) >= 512 {
			return flush()
		}
		return nil
	}
	var buf []byte
	for i, u := range b.Users {
		buf = feature.AppendUser(buf[:0], u)
		if err := add(s.userKey(u.ID), buf, strconv.FormatInt(b.Offsets[b.UserPart[i]], 10)); err != nil {
			return st, err
		}
	}
	for _, p := range b.Products {
		buf = feature.AppendProduct(buf[:0], p)
		if err := add(s.productKey(p.ID), buf, vec); err != nil {
			return st, err
		}
	}
	for id, nb := range b.CoVisit {
		buf = appendScored(buf[:0], nb)
		if err := add(s.covKey(id), buf, vec); err != nil {
			return st, err
		}
	}
	if b.Index != nil {
		if err := add(s.indexKey(), encodeIndex(b.Index), vec); err != nil {
			return st, err
		}
	}
	return st, flush()
}

func joinOffsets(offs []int64) string {
	parts := make([]string, len(offs))
	for i, o := range offs {
		parts[i] = strconv.FormatInt(o, 10)
	}
	return strings.Join(parts, ",")
}

// Errors counts failed reads since start (each degraded to "not found").
func (s *Store) Errors() int64 { return s.errs.Load() }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opt.Timeout)
}

// ReadUsersAndProducts reads users and products in one round trip. Missing
// entities are nil.
func (s *Store) ReadUsersAndProducts(ctx context.Context, users, products []string) (us []*feature.User, ps []*feature.Product, err error) {
	if err := s.br.Allow(); err != nil {
		return nil, nil, reco.E("redisstore.Read", reco.Unavailable, err)
	}
	defer func() {
		if reco.KindOf(err) == reco.Unavailable {
			s.br.Done(err)
		} else {
			s.br.Done(nil)
		}
	}()
	cmds := make(rueidis.Commands, 0, len(users)+len(products))
	for _, id := range users {
		cmds = append(cmds, s.c.B().Hget().Key(s.userKey(id)).Field("v").Build())
	}
	for _, id := range products {
		cmds = append(cmds, s.c.B().Hget().Key(s.productKey(id)).Field("v").Build())
	}
	res := s.c.DoMulti(ctx, cmds...)
	us = make([]*feature.User, len(users))
	ps = make([]*feature.Product, len(products))
	for i, r := range res {
		b, err := r.AsBytes()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, nil, reco.E("redisstore.Read", reco.Unavailable, err)
		}
		if i < len(users) {
			if us[i], err = feature.DecodeUser(b); err != nil {
				return nil, nil, fmt.Errorf("decode user %s: %w", users[i], err)
			}
		} else {
			j := i - len(users)
			if ps[j], err = feature.DecodeProduct(b); err != nil {
				return nil, nil, fmt.Errorf("decode product %s: %w", products[j], err)
			}
		}
	}
	return us, ps, nil
}

// ReadUser reads one user; nil, nil when unknown. Errors are
// reco.Unavailable (Redis down, or the breaker open).
func (s *Store) ReadUser(ctx context.Context, id string) (*feature.User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	us, _, err := s.ReadUsersAndProducts(ctx, []string{id}, nil)
	if err != nil {
		s.errs.Add(1)
		return nil, err
	}
	return us[0], nil
}

// ReadProducts reads products in one round trip; unknown ones are nil.
func (s *Store) ReadProducts(ctx context.Context, ids []string, out []*feature.Product) error {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	_, ps, err := s.ReadUsersAndProducts(ctx, nil, ids)
	if err != nil {
		s.errs.Add(1)
		return err
	}
	copy(out, ps)
	return nil
}

// BreakerOpen reports whether reads fail fast.
func (s *Store) BreakerOpen() bool { return s.br.Open() }

// User reads one user (serving's contract: an error reads as unknown and is
// counted).
func (s *Store) User(id string) (*feature.User, bool) {
	ctx, cancel := s.ctx()
	defer cancel()
	us, _, err := s.ReadUsersAndProducts(ctx, []string{id}, nil)
	if err != nil {
		s.errs.Add(1)
		return nil, false
	}
	return us[0], us[0] != nil
}

// Products reads products in one round trip.
func (s *Store) Products(ids []string, out []*feature.Product) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, ps, err := s.ReadUsersAndProducts(ctx, nil, ids)
	if err != nil {
		s.errs.Add(1)
		clear(out)
		return
	}
	copy(out, ps)
}

// CoVisited reads an item's neighbours, strongest first.
func (s *Store) CoVisited(id string, n int) []memstore.Scored {
	if s.br.Allow() != nil {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.c.Do(ctx, s.c.B().Hget().Key(s.covKey(id)).Field("v").Build()).AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			s.br.Done(nil)
		} else {
			s.errs.Add(1)
			s.br.Done(err)
		}
		return nil
	}
	s.br.Done(nil)
	nb, err := decodeScored(b)
	if err != nil {
		s.errs.Add(1)
		return nil
	}
	if len(nb) > n {
		nb = nb[:n]
	}
	return nb
}

// Index returns the popularity index last loaded by RefreshIndex.
func (s *Store) Index() *memstore.Index { return s.index.Load() }

// RefreshIndex loads the popularity index the stream wrote.
func (s *Store) RefreshIndex(ctx context.Context) error {
	b, err := s.c.Do(ctx, s.c.B().Hget().Key(s.indexKey()).Field("v").Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil
	}
	if err != nil {
		return reco.E("redisstore.RefreshIndex", reco.Unavailable, err)
	}
	ix, err := decodeIndex(b)
	if err != nil {
		return err
	}
	s.index.Store(ix)
	return nil
}

// MemoryPerKey reports Redis's MEMORY USAGE of one user's key, for sizing.
func (s *Store) MemoryUsage(ctx context.Context, userID string) (int64, error) {
	return s.c.Do(ctx, s.c.B().MemoryUsage().Key(s.userKey(userID)).Build()).AsInt64()
}

// Flush deletes every key with the store's prefix (tests and resets).
func (s *Store) Flush(ctx context.Context) error {
	var errs []error
	for _, c := range s.c.Nodes() {
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(s.opt.Prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				if strings.Contains(err.Error(), "MOVED") || strings.Contains(err.Error(), "READONLY") {
					break
				}
				errs = append(errs, err)
				break
			}
			for _, k := range e.Elements {
				if err := c.Do(ctx, c.B().Del().Key(k).Build()).Error(); err != nil {
					errs = append(errs, err)
				}
			}
			if e.Cursor == 0 {
				break
			}
			cursor = e.Cursor
		}
	}
	return errors.Join(errs...)
}

func (s *Store) epochKey() string { return s.opt.Prefix + "epoch" }

// Epoch reads the marker a writer sets once Redis holds its whole state;
// "" when missing (a new or restarted Redis that lost its data).
func (s *Store) Epoch(ctx context.Context) (string, error) {
	v, err := s.c.Do(ctx, s.c.B().Get().Key(s.epochKey()).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", reco.E("redisstore.Epoch", reco.Unavailable, err)
	}
	return v, nil
}

// SetEpoch sets the marker.
func (s *Store) SetEpoch(ctx context.Context, v string) error {
	if err := s.c.Do(ctx, s.c.B().Set().Key(s.epochKey()).Value(v).Build()).Error(); err != nil {
		return reco.E("redisstore.SetEpoch", reco.Unavailable, err)
	}
	return nil
}
