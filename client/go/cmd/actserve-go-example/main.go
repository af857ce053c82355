// actserve-go-example: the Go client in a few lines. Lists the catalog's
// names, then evaluates one activation on a vector and prints the result.
//
//	actserve-go-example -target=127.0.0.1:50051 -fn=gelu -x=-2,0,2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"actserve/client/go/actserve"
	pb "actserve/v1/actservepb"
)

func main() {
	target := flag.String("target", "127.0.0.1:50051", "server address")
	name := flag.String("fn", "sigmoid", "activation name")
	mode := flag.String("mode", "forward", "forward or derivative")
	values := flag.String("x", "-2,0,2", "input vector, comma-separated")
	flag.Parse()
	if err := run(*target, *name, *mode, *values); err != nil {
		fmt.Fprintln(os.Stderr, "actserve-go-example:", err)
		os.Exit(1)
	}
}

func run(target, name, mode, values string) error {
	modes := map[string]pb.Mode{"forward": pb.Mode_MODE_FORWARD, "derivative": pb.Mode_MODE_DERIVATIVE}
	m, ok := modes[mode]
	if !ok {
		return fmt.Errorf("-mode must be forward or derivative, not %q", mode)
	}
	var x []float64
	for _, field := range strings.Split(values, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
		if err != nil {
			return fmt.Errorf("-x: %v", err)
		}
		x = append(x, v)
	}

	client, err := actserve.Dial(target, actserve.Options{})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx := context.Background()

	catalog, err := client.ListActivations(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(catalog))
	for i, info := range catalog {
		names[i] = info.Name
	}
	fmt.Println("activations:", strings.Join(names, " "))

	result, err := client.Evaluate(ctx, &pb.ActivationSpec{Name: name}, m, actserve.Float64Tensor(x), nil)
	if err != nil {
		return err
	}
	y, err := result.Output.Float64s()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s(%v) = %v\n", mode, name, x, y)
	return nil
}
