// Package rank orders candidates. It owns the model's input: the feature
// vector built for every (user, candidate) pair, which serving scores and
// logs with each impression so that training later sees exactly what
// serving saw.
//
// Rules is the transparent rule-based ranker (category affinity x
// popularity x price fit x co-visitation). It is the fallback forever: when
// no trained model is loaded, or a model fails, requests are ranked by it.
// Trained models live in rank/gbdt.
package rank
