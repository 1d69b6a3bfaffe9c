package redisstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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
	// Partitioned selects the layout for several writers, each owning
	// some partitions of the log and keeping a state per partition (Kafka
	// scale-out): each product, co-visitation list and the popularity index
	// then hold one contribution per partition, each guarded by its
	// partition's offset, and reads merge them. Without it one writer
	// owns every partition and each of those keys holds one value guarded
	// by the whole offset vector. The layouts use different keys; the
	// writers and readers of a prefix must agree.
	Partitioned bool
	// Features are the definitions the state was computed with: the
	// partitioned layout merges time-decayed values with their half-lives.
	// The zero value means the defaults.
	Features feature.Options
}

// Store reads and writes the online state in Redis. Safe for concurrent use.
type Store struct {
	c         rueidis.Client
	opt       Options
	guard     *rueidis.Lua // shared keys, one value
	userGuard *rueidis.Lua // users
	partGuard *rueidis.Lua // shared keys, partitioned
	index     atomic.Pointer[memstore.Index]
	errs      atomic.Int64
	br        *breaker.Breaker
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
	o.Features = o.Features.WithDefaults()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: o.Addresses, DisableCache: true,
		ConnWriteTimeout: 2 * time.Second, Dialer: netDialer()})
	if err != nil {
		return nil, reco.E("redisstore.Open", reco.Unavailable, fmt.Errorf("connect to redis %v: %w", o.Addresses, err))
	}
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		c.Close()
		return nil, reco.E("redisstore.Open", reco.Unavailable, fmt.Errorf("ping redis %v: %w", o.Addresses, err))
	}
	s := &Store{c: c, opt: o, guard: rueidis.NewLuaScript(guardScript), userGuard: rueidis.NewLuaScript(userScript),
		partGuard: rueidis.NewLuaScript(partScript), br: breaker.New(5, time.Second, o.Now, o.OnBreaker)}
	s.index.Store(&memstore.Index{ByCategory: map[string][]memstore.Scored{}})
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() { s.c.Close() }

// Keys. The {id} hash tag keeps a key's fields in one slot; every key is
// written and read on its own, so a cluster needs no cross-slot commands.
// A user is a string (u2: its first format was a hash, u:); the shared keys
// of the partitioned layout have names of their own (pp:, cp:, pindex), so
// that neither layout ever reads the other's values.
func (s *Store) userKey(id string) string { return s.opt.Prefix + "u2:{" + id + "}" }

func (s *Store) productKey(id string) string {
	if s.opt.Partitioned {
		return s.opt.Prefix + "pp:{" + id + "}"
	}
	return s.opt.Prefix + "p:{" + id + "}"
}

func (s *Store) covKey(id string) string {
	if s.opt.Partitioned {
		return s.opt.Prefix + "cp:{" + id + "}"
	}
	return s.opt.Prefix + "c:{" + id + "}"
}

func (s *Store) indexKey() string {
	if s.opt.Partitioned {
		return s.opt.Prefix + "pindex"
	}
	return s.opt.Prefix + "index"
}

// userScript writes a user: KEYS[1] is a string, the guard offset as a
// uvarint and then the user (AppendUserCompact). Users are most of Redis's
// memory, and a hash {v, o} with a value over 64 bytes is a hashtable:
// 416 bytes for a 159-byte value that a string holds in 248 (Redis 7.0).
// ARGV[1] is the new value, ARGV[2] its offset: refused (0) when the stored
// offset is greater, else written (1).
const userScript = `
local cur = redis.call('GETRANGE', KEYS[1], 0, 9)
if cur ~= '' then
  local v, m = 0, 1
  for i = 1, #cur do
    local c = string.byte(cur, i)
    v = v + (c % 128) * m
    if c < 128 then break end
    m = m * 128
  end
  if v > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`

// partScript writes partition ARGV[3]'s contribution to a shared key of the
// partitioned layout: fields v<P> (ARGV[1]) and o<P> (ARGV[2], its offset)
// of the hash KEYS[1]. Refused (0) when the stored o<P> is greater, else
// written (1): a replay to the same offset writes the same value again.
const partScript = `
local o = 'o' .. ARGV[3]
local cur = redis.call('HGET', KEYS[1], o)
if cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v' .. ARGV[3], ARGV[1], o, ARGV[2])
return 1
`

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
	Offsets []int64 // per partition: every record below is reflected
	// Partition is, in the partitioned layout, the partition whose state
	// the batch holds: its users are guarded by Offsets[Partition] and its
	// products, co-visitation lists and index are that partition's
	// contributions (the other offsets do not matter). Ignored otherwise.
	Partition int
	Users     []*feature.User
	// UserPart is the partition of each user, whose offset alone guards
	// its key; the partitioned layout ignores it (and may leave it nil).
	UserPart []int
	Products []*feature.Product
	CoVisit  map[string][]memstore.Scored // item -> its whole neighbour list
	Index    *memstore.Index              // nil: unchanged
}

func (s *Store) validate(b *Batch) error {
	var errs []error
	for p, o := range b.Offsets {
		if o < 0 {
			errs = append(errs, fmt.Errorf("offset %d of partition %d < 0", o, p))
		}
	}
	if s.opt.Partitioned {
		if b.Partition < 0 || b.Partition >= len(b.Offsets) {
			errs = append(errs, fmt.Errorf("partition %d of %d offsets", b.Partition, len(b.Offsets)))
		}
	} else {
		if len(b.UserPart) != len(b.Users) {
			errs = append(errs, fmt.Errorf("%d users with %d partitions", len(b.Users), len(b.UserPart)))
		}
		for _, p := range b.UserPart {
			if p < 0 || p >= len(b.Offsets) {
				errs = append(errs, fmt.Errorf("user partition %d of %d offsets", p, len(b.Offsets)))
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return reco.E("redisstore.Write", reco.Invalid, err)
	}
	return nil
}

// WriteStats count what a Write did.
type WriteStats struct {
	Written, Refused int
}

// Write upserts a batch; keys whose stored offsets are ahead keep their
// values (a replay after a crash). Writes are pipelined in chunks.
//
// A user's key is guarded by its partition's offset; in the partitioned
// layout a shared key's contribution by the batch's partition's offset,
// else a shared key by the whole vector. Errors: reco.Invalid for a batch
// that does not fit the layout, reco.Unavailable when Redis fails (part of
// the batch may be written: writing it again is safe).
func (s *Store) Write(ctx context.Context, b Batch) (WriteStats, error) {
	var st WriteStats
	if err := s.validate(&b); err != nil {
		return st, err
	}
	// Each script's calls go in pipelines of their own, users first.
	var execs []rueidis.LuaExec
	var script *rueidis.Lua
	flush := func() error {
		if len(execs) == 0 {
			return nil
		}
		for _, r := range script.ExecMulti(ctx, s.c, execs...) {
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
	add := func(key string, args ...string) error {
		execs = append(execs, rueidis.LuaExec{Keys: []string{key}, Args: args})
		if len(execs) >= 512 {
			return flush()
		}
		return nil
	}
	var buf []byte
	script = s.userGuard
	for i, u := range b.Users {
		var off int64 // validate checked the indexes
		if s.opt.Partitioned {
			off = b.Offsets[b.Partition]
		} else {
			off = b.Offsets[b.UserPart[i]]
		}
		buf = binary.AppendUvarint(buf[:0], uint64(off))
		buf = feature.AppendUserCompact(buf, u)
		if err := add(s.userKey(u.ID), string(buf), strconv.FormatInt(off, 10)); err != nil {
			return st, err
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	// Shared keys: one value and the whole vector, or this partition's
	// contribution and its offset.
	script = s.guard
	vec := joinOffsets(b.Offsets)
	args := func(val []byte) []string { return []string{string(val), vec} }
	if s.opt.Partitioned {
		script = s.partGuard
		off, part := strconv.FormatInt(b.Offsets[b.Partition], 10), strconv.Itoa(b.Partition)
		args = func(val []byte) []string { return []string{string(val), off, part} }
	}
	for _, p := range b.Products {
		buf = feature.AppendProduct(buf[:0], p)
		if err := add(s.productKey(p.ID), args(buf)...); err != nil {
			return st, err
		}
	}
	for id, nb := range b.CoVisit {
		buf = appendScored(buf[:0], nb)
		if err := add(s.covKey(id), args(buf)...); err != nil {
			return st, err
		}
	}
	if b.Index != nil {
		if err := add(s.indexKey(), args(encodeIndex(b.Index))...); err != nil {
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
		cmds = append(cmds, s.c.B().Get().Key(s.userKey(id)).Build())
	}
	for _, id := range products {
		if s.opt.Partitioned {
			cmds = append(cmds, s.c.B().Hgetall().Key(s.productKey(id)).Build())
		} else {
			cmds = append(cmds, s.c.B().Hget().Key(s.productKey(id)).Field("v").Build())
		}
	}
	res := s.c.DoMulti(ctx, cmds...)
	us = make([]*feature.User, len(users))
	ps = make([]*feature.Product, len(products))
	for i, r := range res {
		if i >= len(users) && s.opt.Partitioned {
			j := i - len(users)
			m, err := r.AsStrMap()
			if err != nil {
				return nil, nil, reco.E("redisstore.Read", reco.Unavailable, err)
			}
			if ps[j], err = s.mergeProduct(m); err != nil {
				return nil, nil, fmt.Errorf("decode product %s: %w", products[j], err)
			}
			continue
		}
		b, err := r.AsBytes()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, nil, reco.E("redisstore.Read", reco.Unavailable, err)
		}
		if i < len(users) {
			if us[i], err = decodeUser(b, users[i]); err != nil {
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

// decodeUser decodes a user's value: the guard offset, then the user.
func decodeUser(b []byte, id string) (*feature.User, error) {
	_, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errCorrupt
	}
	u, err := feature.DecodeUser(b[k:])
	if err != nil {
		return nil, err
	}
	u.ID = id
	return u, nil
}

// contributions returns the partitions' values (fields v<P>) of a shared
// key of the partitioned layout, by partition.
func contributions(m map[string]string) []string {
	type part struct {
		p int
		v string
	}
	parts := make([]part, 0, len(m)/2)
	for f, v := range m {
		if len(f) < 2 || f[0] != 'v' {
			continue
		}
		if p, err := strconv.Atoi(f[1:]); err == nil {
			parts = append(parts, part{p, v})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return cmp.Compare(a.p, b.p) })
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.v
	}
	return out
}

// mergeProduct merges a product's contributions; nil when it has none.
func (s *Store) mergeProduct(m map[string]string) (*feature.Product, error) {
	vs := contributions(m)
	if len(vs) == 0 {
		return nil, nil
	}
	ps := make([]*feature.Product, len(vs))
	for i, v := range vs {
		var err error
		if ps[i], err = feature.DecodeProduct([]byte(v)); err != nil {
			return nil, err
		}
	}
	return feature.MergeProducts(ps, &s.opt.Features), nil
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

// CoVisited reads an item's neighbours, strongest first (in the
// partitioned layout, the partitions' lists summed: memstore.MergeScored).
func (s *Store) CoVisited(id string, n int) []memstore.Scored {
	if s.br.Allow() != nil {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if s.opt.Partitioned {
		m, err := s.c.Do(ctx, s.c.B().Hgetall().Key(s.covKey(id)).Build()).AsStrMap()
		s.br.Done(err)
		if err != nil {
			s.errs.Add(1)
			return nil
		}
		vs := contributions(m)
		lists := make([][]memstore.Scored, len(vs))
		for i, v := range vs {
			if lists[i], err = decodeScored([]byte(v)); err != nil {
				s.errs.Add(1)
				return nil
			}
		}
		return memstore.MergeScored(lists, n)
	}
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

// CoVisitedMany reads the neighbour lists of several items in one round
// trip (one pipeline per node in a cluster): out[i] belongs to ids[i], nil
// when unknown or unreadable.
func (s *Store) CoVisitedMany(ids []string, n int) [][]memstore.Scored {
	out := make([][]memstore.Scored, len(ids))
	if len(ids) == 0 || s.br.Allow() != nil {
		return out
	}
	ctx, cancel := s.ctx()
	defer cancel()
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		if s.opt.Partitioned {
			cmds[i] = s.c.B().Hgetall().Key(s.covKey(id)).Build()
		} else {
			cmds[i] = s.c.B().Hget().Key(s.covKey(id)).Field("v").Build()
		}
	}
	var failed error
	for i, r := range s.c.DoMulti(ctx, cmds...) {
		if s.opt.Partitioned {
			m, err := r.AsStrMap()
			if err != nil {
				failed = err
				continue
			}
			vs := contributions(m)
			lists := make([][]memstore.Scored, 0, len(vs))
			for _, v := range vs {
				l, err := decodeScored([]byte(v))
				if err != nil {
					s.errs.Add(1)
					continue
				}
				lists = append(lists, l)
			}
			out[i] = memstore.MergeScored(lists, n)
			continue
		}
		b, err := r.AsBytes()
		if err != nil {
			if !rueidis.IsRedisNil(err) {
				failed = err
			}
			continue
		}
		nb, err := decodeScored(b)
		if err != nil {
			s.errs.Add(1)
			continue
		}
		out[i] = nb[:min(n, len(nb))]
	}
	if failed != nil {
		s.errs.Add(1)
	}
	s.br.Done(failed)
	return out
}

// Index returns the popularity index last loaded by RefreshIndex.
func (s *Store) Index() *memstore.Index { return s.index.Load() }

// RefreshIndex loads the popularity index the stream wrote (in the
// partitioned layout, the partitions' indexes merged:
// memstore.MergeIndexes).
func (s *Store) RefreshIndex(ctx context.Context) error {
	if s.opt.Partitioned {
		m, err := s.c.Do(ctx, s.c.B().Hgetall().Key(s.indexKey()).Build()).AsStrMap()
		if err != nil {
			return reco.E("redisstore.RefreshIndex", reco.Unavailable, err)
		}
		vs := contributions(m)
		if len(vs) == 0 {
			return nil
		}
		ixs := make([]*memstore.Index, len(vs))
		for i, v := range vs {
			if ixs[i], err = decodeIndex([]byte(v)); err != nil {
				return err
			}
		}
		s.index.Store(memstore.MergeIndexes(ixs, feature.Ms(s.opt.Features.PopularityHalfLife), 0, 0))
		return nil
	}
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

// MemoryUsage reports Redis's MEMORY USAGE of one user's key, for sizing.
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
func (s *Store) Epoch(ctx context.Context) (string, error) { return s.epochAt(ctx, s.epochKey()) }

// PartitionEpoch is Epoch for the writer of one partition (the partitioned
// layout: each writer notices on its own that Redis lost its keys).
func (s *Store) PartitionEpoch(ctx context.Context, p int) (string, error) {
	return s.epochAt(ctx, s.partEpochKey(p))
}

// SetPartitionEpoch sets partition p's marker.
func (s *Store) SetPartitionEpoch(ctx context.Context, p int, v string) error {
	if err := s.c.Do(ctx, s.c.B().Set().Key(s.partEpochKey(p)).Value(v).Build()).Error(); err != nil {
		return reco.E("redisstore.SetPartitionEpoch", reco.Unavailable, err)
	}
	return nil
}

func (s *Store) partEpochKey(p int) string { return s.opt.Prefix + "epoch:p" + strconv.Itoa(p) }

func (s *Store) epochAt(ctx context.Context, key string) (string, error) {
	v, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", reco.E("redisstore.Epoch", reco.Unavailable, err)
	}
	return v, nil
}

func (s *Store) precomputedKey(user string) string { return s.opt.Prefix + "pre:{" + user + "}" }

// WritePrecomputed stores each user's precomputed recommendations (an
// opaque encoding) for ttl, pipelined; a later write replaces them.
func (s *Store) WritePrecomputed(ctx context.Context, lists map[string][]byte, ttl time.Duration) error {
	cmds := make(rueidis.Commands, 0, 512)
	flush := func() error {
		for _, r := range s.c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				return reco.E("redisstore.WritePrecomputed", reco.Unavailable, err)
			}
		}
		cmds = cmds[:0]
		return nil
	}
	for u, v := range lists {
		cmds = append(cmds, s.c.B().Set().Key(s.precomputedKey(u)).Value(rueidis.BinaryString(v)).Px(ttl).Build())
		if len(cmds) == cap(cmds) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// ReadPrecomputed returns a user's precomputed recommendations; ok is
// false when there are none. Errors are reco.Unavailable (Redis down, or
// the breaker open).
func (s *Store) ReadPrecomputed(ctx context.Context, user string) (v []byte, ok bool, err error) {
	if err := s.br.Allow(); err != nil {
		return nil, false, reco.E("redisstore.ReadPrecomputed", reco.Unavailable, err)
	}
	b, err := s.c.Do(ctx, s.c.B().Get().Key(s.precomputedKey(user)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		s.br.Done(nil)
		return nil, false, nil
	}
	s.br.Done(err)
	if err != nil {
		return nil, false, reco.E("redisstore.ReadPrecomputed", reco.Unavailable, err)
	}
	return b, true, nil
}

// SetEpoch sets the marker.
func (s *Store) SetEpoch(ctx context.Context, v string) error {
	if err := s.c.Do(ctx, s.c.B().Set().Key(s.epochKey()).Value(v).Build()).Error(); err != nil {
		return reco.E("redisstore.SetEpoch", reco.Unavailable, err)
	}
	return nil
}
