// Package modelcli implements the "reco model" subcommands: train a
// gradient-boosted model from a CSV or LibSVM file, score a file with a
// model, and inspect a model file. The models are gbdt models in XGBoost's
// JSON format.
//
// It is not the model registry: importing and naming models for serving
// ("reco model import") lives elsewhere.
package modelcli
