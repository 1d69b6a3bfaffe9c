// Package reco holds the words shared by every part of the recommender:
// identifiers and the error kinds callers branch on. It imports nothing else
// from the module, and everything else may import it.
package reco

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that callers branch on what happened, not on
// message text. Only the HTTP layer turns a Kind into a status code.
type Kind uint8

const (
	Other           Kind = iota // an unexpected failure: 500
	Invalid                     // bad input: 400 (or 413 for too large)
	NotFound                    // unknown user, product, model or experiment: 404
	Unavailable                 // a dependency is down or out of capacity: degrade if you can, else 503
	TooLarge                    // a body or batch over its limit: 413
	NoSpace                     // the data disk is full: 507
	Conflict                    // the request conflicts with current state: 409
	Unauthenticated             // no credentials: 401
	Forbidden                   // credentials that may not do this: 403
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too large"
	case NoSpace:
		return "no space"
	case Conflict:
		return "conflict"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	}
	return "other"
}

// Error is an error with an operation and a kind.
type Error struct {
	Op   string // the operation, such as "event.Decode"
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error.
func E(op string, kind Kind, err error) error {
	return &Error{Op: op, Kind: kind, Err: err}
}

// Errorf builds an *Error with a formatted message.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf reports the Kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		if e.Kind == Other {
			return KindOf(e.Err)
		}
		return e.Kind
	}
	return Other
}
