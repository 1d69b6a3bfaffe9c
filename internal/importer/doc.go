// Package importer reads interaction logs from files into events and
// catalog upserts: streaming parsers (gzip detected by its magic bytes) for
// the UCI Online Retail CSV, the Taobao multi-behaviour TSV, NDJSON in the
// API's schema and any CSV with a column mapping; and Run, which feeds them
// in batches to the same ingest path as live traffic, keeping a ledger so
// that a re-import adds nothing and an interrupted one resumes.
//
// Every row has an outcome: an event, a rejection by the format's rules
// ("rejected: cancellation", counted by reason), or a malformed row
// reported with its line number. Nothing is dropped silently.
//
// It does not own the log or the state: Run writes through a Sink.
package importer
