package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/rank"
)

// ExportView is the training set's table: one row per (query, candidate),
// the query's id as its key, its time as its timestamp; then the label, the
// user, and one column per model feature, in rank.FeatureNames order.
func ExportView() offline.View {
	v := offline.View{Name: "training_set", Entity: "query_id", TTL: 1}
	v.Fields = append(v.Fields, offline.Field{Name: "label", Type: offline.Float64},
		offline.Field{Name: "qid", Type: offline.Int64}, offline.Field{Name: "user_id", Type: offline.String},
		offline.Field{Name: "split", Type: offline.String})
	for _, f := range rank.FeatureNames {
		v.Fields = append(v.Fields, offline.Field{Name: f, Type: offline.Float64})
	}
	return v
}

// Export writes queries as Parquet (ZSTD) under dir, for training at scale
// (Spark + XGBoost reads dir/training_set/...; "label" is the target, "qid"
// the query group for rank:ndcg, the feature columns the model's input in
// order). The latest validShare of queries are marked split=valid. It also
// writes dir/schema.json with the feature names and how to import the
// resulting model.
func Export(ctx context.Context, dir string, queries []Query, validShare float64) (rows int, err error) {
	v := ExportView()
	st, err := offline.New(fileblob.New(dir), offline.Options{Views: []offline.View{v}})
	if err != nil {
		return 0, err
	}
	cut := int(float64(len(queries)) * (1 - validShare))
	out := make([]offline.Row, 0, 4096)
	flush := func(batch string) error {
		if len(out) == 0 {
			return nil
		}
		if err := st.WriteRows(ctx, v.Name, batch, out); err != nil {
			return fmt.Errorf("export training set: %w", err)
		}
		rows += len(out)
		out = out[:0]
		return nil
	}
	part := 0
	for qi, q := range queries {
		split := "train"
		if qi >= cut {
			split = "valid"
		}
		for r := 0; r < q.Rows(); r++ {
			row := offline.Row{Key: strconv.Itoa(qi), Time: q.Time, Values: make([]offline.Value, 0, len(v.Fields))}
			row.Values = append(row.Values, offline.Float(float64(q.Labels[r])), offline.Int(int64(qi)), offline.Str(q.UserID), offline.Str(split))
			for _, x := range q.X[r*rank.NumFeatures : (r+1)*rank.NumFeatures] {
				if math.IsNaN(float64(x)) {
					row.Values = append(row.Values, offline.Null)
				} else {
					row.Values = append(row.Values, offline.Float(float64(x)))
				}
			}
			out = append(out, row)
		}
		if len(out) >= 200_000 {
			if err := flush(fmt.Sprintf("part-%05d", part)); err != nil {
				return rows, err
			}
			part++
		}
	}
	if err := flush(fmt.Sprintf("part-%05d", part)); err != nil {
		return rows, err
	}
	schema := map[string]any{
		"table": "training_set (Parquet, ZSTD), partitioned view=training_set/date=YYYY-MM-DD",
		"label": "label (0 no interaction; click 1, add_to_cart 2, purchase 4 for ranking; > 0 means positive for binary:logistic)",
		"group": "qid (one served list or one replayed query)", "split": "split: train, or valid for the latest time slice",
		"features": rank.FeatureNames, "schema_hash": rank.SchemaHash(),
		"import": "train XGBoost with these feature columns in this order (feature_names optional), save_model('model.json'), then: reco model import model.json",
	}
	b, _ := json.MarshalIndent(schema, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "schema.json"), append(b, '\n'), 0o644); err != nil {
		return rows, fmt.Errorf("export training set: %w", err)
	}
	return rows, nil
}
