package config

import (
	"flag"
	"github.com/recohq/reco/internal/experiment"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		key  string // the dotted path the error must name
	}{
		{"top level", "adr: x\n", "adr"},
		{"nested", "event_log:\n  type: embedded\n  typo: 1\n", "event_log.typo"},
		{"nested under another section", "online_store:\n  adresses: [a]\n", "online_store.adresses"},
		{"list item", "experiments:\n  - id: e1\n    bogus: 1\n", "experiments[0].bogus"},
		{"second list item", "experiments:\n  - id: e1\n  - id: e2\n    salt: s\n    bogus: 1\n", "experiments[1].bogus"},
		{"list inside list item", "experiments:\n  - id: e1\n    variants:\n      - name: a\n      - name: b\n        wieght: 2\n", "experiments[0].variants[1].wieght"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := Parse([]byte(tt.yaml), &c)
			if err == nil {
				t.Fatal("Parse accepted an unknown key")
			}
			if !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), "unknown key") {
				t.Errorf("error %q does not name unknown key %q", err, tt.key)
			}
		})
	}
}

func TestParseUnknownKeysAllReported(t *testing.T) {
	c := Default()
	err := Parse([]byte("bogus1: 1\nevent_log:\n  bogus2: 2\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "bogus1") || !strings.Contains(err.Error(), "event_log.bogus2") {
		t.Errorf("Parse = %v, want both unknown keys named", err)
	}
}

func TestParseValues(t *testing.T) {
	doc := `
addr: ":9000"
event_log:
  type: kafka
  partitions: 16
  retention: 7d
  fsync_interval: 90s
  brokers: [k1:9092, k2:9092]
online_store:
  type: redis
  addresses:
    - r1:6379
features:
  affinity_half_life: 0.5d
  weights:
    view: 0.5
    purchase: 10
experiments:
  - id: exp1
    coverage: 0.5
    variants:
      - name: control
        weight: 1
      - name: treat
        weight: 1
        strategy: {model: rules, max_per_category: 2}
`
	c := Default()
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Default()
	want.Addr = ":9000"
	want.EventLog.Type = "kafka"
	want.EventLog.Partitions = 16
	want.EventLog.Retention = Duration(7 * 24 * time.Hour)
	want.EventLog.FsyncInterval = Duration(90 * time.Second)
	want.EventLog.Brokers = []string{"k1:9092", "k2:9092"}
	want.OnlineStore.Type = "redis"
	want.OnlineStore.Addresses = []string{"r1:6379"}
	want.Features.AffinityHalfLife = Duration(12 * time.Hour)
	want.Features.Weights = map[string]float64{"view": 0.5, "purchase": 10}
	want.Experiments = []experiment.Experiment{{ID: "exp1", Coverage: 0.5, Variants: []experiment.Variant{
		{Name: "control", Weight: 1}, {Name: "treat", Weight: 1, Strategy: experiment.Strategy{Model: "rules", MaxPerCategory: 2}}}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "\n", "# only a comment\n"} {
		c := Default()
		if err := Parse([]byte(doc), &c); err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) changed the defaults", doc)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7d", 7 * 24 * time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"0.5d", 12 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{" 2h ", 2 * time.Hour, true},
		{"7x", 0, false},
		{"", 0, false},
		{"d", 0, false},
		{"xd", 0, false},
		{"10", 0, false},
		{"7xd", 0, false},  // trailing garbage before the d
		{"1h2d", 0, false}, // mixed units are not supported
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.ok {
				if err != nil || got.D() != tt.want {
					t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", tt.in, got.D())
			}
		})
	}
}

// loadEnv runs Load with a fresh flag set, the given args and a fake
// environment.
func loadEnv(t *testing.T, args []string, env map[string]string) (Config, []string, error) {
	t.Helper()
	fs := flag.NewFlagSet("reco", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	getenv := func(k string) string { return env[k] }
	return Load(fs, args, getenv, map[string]string{"data": "data_dir"})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "reco.yaml", "addr: file:1\nevent_log:\n  partitions: 16\nlog_level: warn\n")
	tests := []struct {
		name       string
		file       bool
		env        map[string]string
		flags      []string
		addr       string
		partitions int
		logLevel   string
	}{
		{"defaults", false, nil, nil, "127.0.0.1:8080", 8, "info"},
		{"file over defaults", true, nil, nil, "file:1", 16, "warn"},
		{"env over file", true, map[string]string{"RECO_ADDR": "env:1", "RECO_EVENT_LOG_PARTITIONS": "32"}, nil, "env:1", 32, "warn"},
		{"env over defaults", false, map[string]string{"RECO_EVENT_LOG_PARTITIONS": "4"}, nil, "127.0.0.1:8080", 4, "info"},
		{"flags over env", true, map[string]string{"RECO_ADDR": "env:1", "RECO_EVENT_LOG_PARTITIONS": "32"},
			[]string{"--addr", "flag:1", "--event-log-partitions=64"}, "flag:1", 64, "warn"},
		{"flag over file, env partly set", true, map[string]string{"RECO_LOG_LEVEL": "debug"},
			[]string{"--event-log-partitions", "2"}, "file:1", 2, "debug"},
		{"empty env is unset", true, map[string]string{"RECO_ADDR": ""}, nil, "file:1", 16, "warn"},
		{"last flag wins", false, nil, []string{"--addr", "a:1", "--addr", "b:2"}, "b:2", 8, "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file {
				env["RECO_CONFIG"] = file
			} else {
				env["RECO_CONFIG"] = writeFile(t, t.TempDir(), "empty.yaml", "")
			}
			c, _, err := loadEnv(t, tt.flags, env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Addr != tt.addr || c.EventLog.Partitions != tt.partitions || c.LogLevel != tt.logLevel {
				t.Errorf("addr %q partitions %d log_level %q; want %q %d %q", c.Addr, c.EventLog.Partitions, c.LogLevel,
					tt.addr, tt.partitions, tt.logLevel)
			}
		})
	}
}

func TestLoadConfigFlagOverEnvConfig(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", "addr: from-a:1\n")
	b := writeFile(t, dir, "b.yaml", "addr: from-b:1\n")
	c, _, err := loadEnv(t, []string{"--config", b}, map[string]string{"RECO_CONFIG": a})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "from-b:1" {
		t.Errorf("addr = %q, want the --config file's", c.Addr)
	}
}

func TestLoadAliasAndArgs(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./reco.yaml
	tests := []struct {
		name string
		args []string
		env  map[string]string
		dir  string
		rest []string
	}{
		{"alias", []string{"--data", "/srv/reco"}, nil, "/srv/reco", []string{}},
		{"alias with =", []string{"--data=/srv/x", "serve", "now"}, nil, "/srv/x", []string{"serve", "now"}},
		{"canonical flag", []string{"--data-dir", "/d"}, nil, "/d", []string{}},
		{"alias over env", []string{"-data", "/flag"}, map[string]string{"RECO_DATA_DIR": "/env"}, "/flag", []string{}},
		{"env alone", nil, map[string]string{"RECO_DATA_DIR": "/env"}, "/env", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rest, err := loadEnv(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.DataDir != tt.dir {
				t.Errorf("data_dir = %q, want %q", c.DataDir, tt.dir)
			}
			if len(rest) != len(tt.rest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.rest)) {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

func TestLoadListEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		val  string
		want []string
	}{
		{"a:1,b:2", []string{"a:1", "b:2"}},
		{" a:1 , b:2 ,", []string{"a:1", "b:2"}},
		{"single:6379", []string{"single:6379"}},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			c, _, err := loadEnv(t, nil, map[string]string{"RECO_ONLINE_STORE_ADDRESSES": tt.val, "RECO_ONLINE_STORE_TYPE": "redis"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.OnlineStore.Addresses, tt.want) || c.OnlineStore.Type != "redis" {
				t.Errorf("addresses = %q (type %q), want %q", c.OnlineStore.Addresses, c.OnlineStore.Type, tt.want)
			}
		})
	}
}

func TestLoadDurations(t *testing.T) {
	t.Chdir(t.TempDir())
	c, _, err := loadEnv(t, []string{"--recommend-timeout", "90ms"}, map[string]string{"RECO_EVENT_LOG_RETENTION": "7d",
		"RECO_ONLINE_STORE_CHECKPOINT_INTERVAL": "90s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.EventLog.Retention.D() != 7*24*time.Hour || c.OnlineStore.CheckpointInterval.D() != 90*time.Second ||
		c.Recommend.Timeout.D() != 90*time.Millisecond {
		t.Errorf("retention %v, checkpoint %v, timeout %v", c.EventLog.Retention, c.OnlineStore.CheckpointInterval, c.Recommend.Timeout)
	}
}

func TestLoadBadValues(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		name  string
		file  string // "" = no file
		env   map[string]string
		flags []string
		key   string
	}{
		{"file: unknown event_log.type", "event_log:\n  type: foo\n", nil, nil, "event_log.type"},
		{"file: zero partitions", "event_log:\n  partitions: 0\n", nil, nil, "event_log.partitions"},
		{"file: too many partitions", "event_log:\n  partitions: 5000\n", nil, nil, "event_log.partitions"},
		{"file: kafka without brokers", "event_log:\n  type: kafka\n", nil, nil, "event_log.brokers"},
		{"file: unknown key", "event_log:\n  typo: 1\n", nil, nil, "event_log.typo"},
		{"file: experiment without variants", "experiments:\n  - id: e\n", nil, nil, "experiments[0].variants"},
		{"file: bad weight name", "features:\n  weights:\n    like: 1\n", nil, nil, "features.weights.like"},
		{"file: bad duration", "event_log:\n  retention: 7x\n", nil, nil, "event_log.retention"},
		{"file: partitions not a number", "event_log:\n  partitions: many\n", nil, nil, "event_log.partitions"},
		{"env: unknown event_log.type", "", map[string]string{"RECO_EVENT_LOG_TYPE": "foo"}, nil, "event_log.type"},
		{"env: zero partitions", "", map[string]string{"RECO_EVENT_LOG_PARTITIONS": "0"}, nil, "event_log.partitions"},
		{"env: partitions not a number", "", map[string]string{"RECO_EVENT_LOG_PARTITIONS": "many"}, nil, "event_log.partitions"},
		{"env: bad duration", "", map[string]string{"RECO_EVENT_LOG_RETENTION": "7x"}, nil, "event_log.retention"},
		{"env: bad bool", "", map[string]string{"RECO_OFFLINE_STORE_SECURE": "maybe"}, nil, "offline_store.secure"},
		{"env: bad float", "", map[string]string{"RECO_RECOMMEND_PROMOTED_BOOST": "lots"}, nil, "recommend.promoted_boost"},
		{"flag: unknown event_log.type", "", nil, []string{"--event-log-type", "foo"}, "event_log.type"},
		{"flag: zero partitions", "", nil, []string{"--event-log-partitions=0"}, "event_log.partitions"},
		{"flag: bad duration", "", nil, []string{"--event-log-retention", "7x"}, "event_log.retention"},
		{"flag beats valid env, and is bad", "", map[string]string{"RECO_EVENT_LOG_TYPE": "kafka", "RECO_EVENT_LOG_BROKERS": "k:1"},
			[]string{"--event-log-type", "foo"}, "event_log.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file != "" {
				env["RECO_CONFIG"] = writeFile(t, t.TempDir(), "reco.yaml", tt.file)
			}
			_, _, err := loadEnv(t, tt.flags, env)
			if err == nil {
				t.Fatal("Load accepted a bad value")
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %q", err, tt.key)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	t.Run("explicit --config missing", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if _, _, err := loadEnv(t, []string{"--config", missing}, nil); err == nil {
			t.Error("Load accepted a missing --config file")
		}
	})
	t.Run("explicit RECO_CONFIG missing", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if _, _, err := loadEnv(t, nil, map[string]string{"RECO_CONFIG": missing}); err == nil {
			t.Error("Load accepted a missing RECO_CONFIG file")
		}
	})
	t.Run("default ./reco.yaml missing", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, _, err := loadEnv(t, nil, nil)
		if err != nil {
			t.Fatalf("Load without ./reco.yaml: %v", err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Load without any source = %+v, want the defaults", c)
		}
	})
	t.Run("default ./reco.yaml present", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "reco.yaml", "log_level: debug\n")
		t.Chdir(dir)
		c, _, err := loadEnv(t, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.LogLevel != "debug" {
			t.Errorf("log_level = %q, want ./reco.yaml's debug", c.LogLevel)
		}
	})
	t.Run("default ./reco.yaml is a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "reco.yaml"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		if _, _, err := loadEnv(t, nil, nil); err == nil {
			t.Error("Load accepted an unreadable ./reco.yaml")
		}
	})
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}
