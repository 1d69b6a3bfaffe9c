package demo

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configures Run. The zero value of each field but BaseURL means its
// default.
type Options struct {
	BaseURL     string        // the server, such as http://127.0.0.1:8080; required
	Seed        int64         // the world and each worker's decisions are deterministic for a seed
	Products    int           // 0 means 10,000
	Categories  int           // 0 means 50; at most Products
	Users       int           // 0 means 5,000
	Duration    time.Duration // 0 means run until ctx is cancelled
	Concurrency int           // simulated users acting at once (at most Users); 0 means 16
	Progress    io.Writer     // a progress line every ~2 s; nil means none
	HTTPClient  *http.Client  // nil means a client with a 10 s timeout and Concurrency idle connections

	// unreachableAfter is how long the server may be unreachable before Run
	// gives up; 0 means 5 s. Tests shorten it.
	unreachableAfter time.Duration
	// progressEvery is the interval between progress lines; 0 means 2 s.
	progressEvery time.Duration
}

const (
	defaultProducts    = 10_000
	defaultCategories  = 50
	defaultUsers       = 5_000
	defaultConcurrency = 16
	defaultUnreachable = 5 * time.Second
	defaultProgress    = 2 * time.Second
)

func (o Options) withDefaults() Options {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Products == 0 {
		o.Products = defaultProducts
	}
	if o.Categories == 0 {
		o.Categories = defaultCategories
	}
	if o.Users == 0 {
		o.Users = defaultUsers
	}
	if o.Concurrency == 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.unreachableAfter == 0 {
		o.unreachableAfter = defaultUnreachable
	}
	if o.progressEvery == 0 {
		o.progressEvery = defaultProgress
	}
	if o.HTTPClient == nil && o.Concurrency > 0 {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 2*o.Concurrency + 8
		t.MaxIdleConnsPerHost = o.Concurrency + 4
		o.HTTPClient = &http.Client{Transport: t, Timeout: 10 * time.Second}
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if u, err := url.Parse(o.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("BaseURL %q: %w", o.BaseURL, err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BaseURL %q is not an http(s) URL with a host", o.BaseURL))
	}
	if o.Products < 0 {
		errs = append(errs, fmt.Errorf("Products %d < 0", o.Products))
	}
	if o.Categories < 0 {
		errs = append(errs, fmt.Errorf("Categories %d < 0", o.Categories))
	}
	if o.Categories > o.Products && o.Products > 0 {
		errs = append(errs, fmt.Errorf("Categories %d > Products %d", o.Categories, o.Products))
	}
	if o.Users < 0 {
		errs = append(errs, fmt.Errorf("Users %d < 0", o.Users))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("Duration %v < 0", o.Duration))
	}
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("Concurrency %d < 0", o.Concurrency))
	}
	return errors.Join(errs...)
}
