package seglog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	headerSize    = 16
	formatVersion = 1
	segSuffix     = ".seg"
	metaName      = "meta.json"
	consumersName = "consumers.json"
	lockName      = "LOCK"
	readBufSize   = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the masked CRC-32C of a payload.
func checksum(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// appendRecord appends the encoded record to dst.
func appendRecord(dst []byte, off int64, data []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[4:], checksum(data))
	binary.LittleEndian.PutUint64(h[8:], uint64(off))
	dst = append(dst, h[:]...)
	return append(dst, data...)
}

func segName(base int64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

func parseSegName(name string) (int64, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func partDir(dir string, p int) string { return filepath.Join(dir, fmt.Sprintf("p%03d", p)) }

// CorruptionError reports a record that fails its checks in a part of the
// log that should be intact.
type CorruptionError struct {
	Path   string // segment file
	Pos    int64  // byte position of the record header in the file
	Offset int64  // offset the record should have
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt record in %s at byte %d (offset %d): %s", e.Path, e.Pos, e.Offset, e.Reason)
}

// segReader reads records from a segment file through a reusable buffer.
// The bytes buf[r:w] are the file's bytes from position bufPos+r.
type segReader struct {
	f      File
	buf    []byte
	r, w   int
	bufPos int64
}

func (s *segReader) reset(f File, pos int64) {
	s.f = f
	s.r, s.w = 0, 0
	s.bufPos = pos
	if s.buf == nil {
		s.buf = make([]byte, readBufSize)
	}
}

// pos is the file position of the cursor.
func (s *segReader) pos() int64 { return s.bufPos + int64(s.r) }

// ensure makes n bytes available at the cursor, reading no further than
// limit. It reports false if the bytes before limit are fewer than n.
func (s *segReader) ensure(n int, limit int64) (bool, error) {
	if s.w-s.r >= n {
		return true, nil
	}
	if s.pos()+int64(n) > limit {
		return false, nil
	}
	if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.bufPos += int64(s.r)
		s.r = 0
	}
	if n > len(s.buf) {
		nb := make([]byte, max(n, 2*len(s.buf)))
		copy(nb, s.buf[:s.w])
		s.buf = nb
	}
	for s.w < n {
		end := int64(len(s.buf))
		if rest := limit - s.bufPos; rest < end {
			end = rest
		}
		m, err := s.f.ReadAt(s.buf[s.w:end], s.bufPos+int64(s.w))
		s.w += m
		if s.w >= n {
			break
		}
		if err == io.EOF || (err == nil && m == 0) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// next parses the record at the cursor, which must have offset want, and
// moves past it. With verify it also checks the checksum. A record that
// fails a check leaves the cursor in place and returns a reason.
func (s *segReader) next(limit, want int64, verify bool) (data []byte, bad string, err error) {
	ok, err := s.ensure(headerSize, limit)
	if err != nil || !ok {
		return nil, "short header", err
	}
	h := s.buf[s.r : s.r+headerSize]
	n := int64(binary.LittleEndian.Uint32(h[0:]))
	crc := binary.LittleEndian.Uint32(h[4:])
	off := int64(binary.LittleEndian.Uint64(h[8:]))
	if n > maxRecordLimit {
		return nil, fmt.Sprintf("length %d over the limit", n), nil
	}
	if off != want {
		return nil, fmt.Sprintf("header has offset %d", off), nil
	}
	ok, err = s.ensure(headerSize+int(n), limit)
	if err != nil || !ok {
		return nil, "short payload", err
	}
	data = s.buf[s.r+headerSize : s.r+headerSize+int(n)]
	if verify && checksum(data) != crc {
		return nil, "checksum mismatch", nil
	}
	s.r += headerSize + int(n)
	return data, "", nil
}

type meta struct {
	Version    int `json:"version"`
	Partitions int `json:"partitions"`
}

// loadMeta reads meta.json; it returns ok=false if there is none.
func loadMeta(dir string) (m meta, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read meta: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("parse %s: %w", metaName, err)
	}
	if m.Version != formatVersion {
		return m, false, fmt.Errorf("%s: format version %d, want %d", metaName, m.Version, formatVersion)
	}
	if m.Partitions <= 0 || m.Partitions > maxPartitions {
		return m, false, fmt.Errorf("%s: bad partition count %d", metaName, m.Partitions)
	}
	return m, true, nil
}

// writeFileAtomic replaces path with data durably: temporary file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
