package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// client sends requests to the server, counts error statuses and network
// failures in st, and notices when the server has been unreachable too long.
type client struct {
	base  string
	hc    *http.Client
	limit time.Duration
	st    *stats

	downSince atomic.Int64 // unix ns of the first network failure since the last response; 0 if none
}

// unreachableError ends the run: no response for longer than the limit.
type unreachableError struct {
	url   string
	limit time.Duration
	err   error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("server %s unreachable for more than %v: %v", e.url, e.limit, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// do sends one request and reads the whole answer. Any HTTP response, error
// statuses included, returns a nil error (a status >= 300 is counted in
// Report.Errors). A network failure returns its error, or an
// *unreachableError once the server has not answered for the limit; if ctx
// is done it returns ctx.Err() and counts nothing.
func (c *client) do(ctx context.Context, method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err == nil {
		c.downSince.Store(0)
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err == nil {
			if resp.StatusCode >= 300 {
				c.st.countError(strconv.Itoa(resp.StatusCode), method+" "+path+": "+errorMessage(b))
			}
			return resp.StatusCode, b, nil
		}
	}
	if ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	c.st.countError("network", err.Error())
	now := time.Now().UnixNano()
	c.downSince.CompareAndSwap(0, now)
	if since := c.downSince.Load(); since != 0 && time.Duration(now-since) > c.limit {
		return 0, nil, &unreachableError{url: c.base, limit: c.limit, err: err}
	}
	return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
}

// errorMessage extracts "error" from an API error body, or the body itself.
func errorMessage(b []byte) string {
	var e struct {
		Error   string            `json:"error"`
		Details []json.RawMessage `json:"details"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		if len(e.Details) > 0 {
			return e.Error + " " + string(e.Details[0])
		}
		return e.Error
	}
	return string(bytes.TrimSpace(b))
}

// fatal reports whether err must end the run (as opposed to a transient
// network failure worth retrying).
func fatal(err error) bool {
	var u *unreachableError
	return errors.As(err, &u) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryBackoff is the wait after a network failure before trying again.
const retryBackoff = 100 * time.Millisecond

// send is do with retries on network failures until the server answers, ctx
// ends or the server is declared unreachable.
func (c *client) send(ctx context.Context, method, path, ctype string, body []byte) (int, []byte, error) {
	for {
		code, b, err := c.do(ctx, method, path, ctype, body)
		if err == nil || fatal(err) {
			return code, b, err
		}
		if err := sleepCtx(ctx, retryBackoff); err != nil {
			return 0, nil, err
		}
	}
}
