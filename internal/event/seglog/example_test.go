package seglog_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/recohq/reco/internal/event/seglog"
)

func Example() {
	dir, err := os.MkdirTemp("", "seglog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := seglog.Open(seglog.Options{Dir: dir, Partitions: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	ctx := context.Background()
	offs, err := l.Append(ctx, []seglog.Record{
		{Partition: 0, Data: []byte("view u1 p9")},
		{Partition: 1, Data: []byte("view u2 p3")},
		{Partition: 0, Data: []byte("buy u1 p9")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offsets:", offs)

	r, err := l.NewReader(0, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		off, data, ok, err := r.TryNext()
		if err != nil {
			log.Fatal(err)
		}
		if !ok {
			break
		}
		fmt.Printf("%d %s\n", off, data)
	}
	// A consumer that has checkpointed partition 0 below offset 2 lets
	// retention delete older segments once they are old enough.
	l.SetCommitted("ingest", 0, 2)
	// Output:
	// offsets: [0 0 1]
	// 0 view u1 p9
	// 1 buy u1 p9
}
