package kafkalog

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultTopic is the topic used when Options.Topic is empty.
const DefaultTopic = "user-events"

// Options configure a Log. The zero value of every field but Brokers has a
// default.
type Options struct {
	Brokers    []string // seed brokers, host:port; required
	Topic      string   // "" means "user-events"
	Partitions int      // partitions of the topic if Open creates it; 0 means 8
	// ReplicationFactor of the topic if Open creates it; 0 means the
	// broker's default.
	ReplicationFactor int16
	ClientID          string // "" means "reco"
	Group             string // consumer group of the stream workers; "" means "reco-stream"

	TLS *tls.Config // nil means plaintext

	// SASL, if set, is used as is. Otherwise SASLMechanism ("PLAIN",
	// "SCRAM-SHA-256" or "SCRAM-SHA-512") with SASLUser and SASLPassword.
	SASL          sasl.Mechanism
	SASLMechanism string
	SASLUser      string
	SASLPassword  string

	ProduceTimeout time.Duration // bound on one Append; 0 means 10s
	AdminTimeout   time.Duration // bound on metadata, offset and commit calls; 0 means 5s
	// SessionTimeout of a group member: how long a dead process keeps its
	// partitions. 0 means 10s.
	SessionTimeout time.Duration

	Hooks Hooks

	// ExtraOpts are appended to every franz-go client's options (tests,
	// tuning). Most callers leave it nil.
	ExtraOpts []kgo.Opt
}

// Hooks observe a Log. Each must be fast and safe for concurrent use.
type Hooks struct {
	// OnBadRecord is called when a record without our encoding header cannot
	// be transcoded; the reader returns a bad-record marker in its place.
	OnBadRecord func(partition int32, offset int64, err error)
	// OnCommitError is called when Source.Commit could not store an offset.
	OnCommitError func(partition int32, offset int64, err error)
}

func (o Options) withDefaults() Options {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.ClientID == "" {
		o.ClientID = "reco"
	}
	if o.Group == "" {
		o.Group = "reco-stream"
	}
	if o.ProduceTimeout == 0 {
		o.ProduceTimeout = 10 * time.Second
	}
	if o.AdminTimeout == 0 {
		o.AdminTimeout = 5 * time.Second
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 10 * time.Second
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if len(o.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if o.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions %d < 0", o.Partitions))
	}
	if o.ProduceTimeout < 0 || o.AdminTimeout < 0 || o.SessionTimeout < 0 {
		errs = append(errs, errors.New("negative timeout"))
	}
	if o.SASL == nil && o.SASLMechanism != "" {
		if _, err := o.saslMechanism(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (o Options) saslMechanism() (sasl.Mechanism, error) {
	if o.SASL != nil {
		return o.SASL, nil
	}
	switch strings.ToUpper(o.SASLMechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", o.SASLMechanism)
}

// clientOpts are the options every client of the Log shares.
func (o Options) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		kgo.DialTimeout(o.AdminTimeout),
	}
	if o.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(o.TLS.Clone()))
	}
	if m, _ := o.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return append(opts, o.ExtraOpts...)
}
