package actserve

// Against the real server: ACTSERVE_SERVER names the binary (CTest sets it).
// The server allows only 4 MiB messages, so a larger request succeeds only if
// the client really streams it.

import (
	"bufio"
	"context"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	pb "actserve/v1/actservepb"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const serverMessageBytes = 4 << 20

var client *Client

func TestMain(m *testing.M) {
	binary := os.Getenv("ACTSERVE_SERVER")
	if binary == "" {
		os.Stderr.WriteString("ACTSERVE_SERVER must name the actserve binary\n")
		os.Exit(2)
	}
	server := exec.Command(binary, "--listen=127.0.0.1:0", "--log_level=warning",
		"--max_message_bytes=4194304", "--max_chunk_bytes=1048576")
	server.Stderr = os.Stderr
	stdout, err := server.StdoutPipe()
	if err == nil {
		err = server.Start()
	}
	if err != nil {
		os.Stderr.WriteString("starting the server: " + err.Error() + "\n")
		os.Exit(2)
	}
	banner, _ := bufio.NewReader(stdout).ReadString('\n')
	address := strings.TrimPrefix(strings.TrimSpace(banner), "actserve listening on ")
	code := 2
	if address == strings.TrimSpace(banner) {
		os.Stderr.WriteString("the server did not start\n")
	} else if client, err = Dial(address, Options{ChunkBytes: 256 << 10}); err != nil {
		os.Stderr.WriteString("dial: " + err.Error() + "\n")
	} else {
		code = m.Run()
		client.Close()
	}
	server.Process.Kill()
	server.Wait()
	os.Exit(code)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ramp is n values spread over [-8, 8).
func ramp(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-8 + 16*float64(i)/float64(n))
	}
	return x
}

func TestListActivations(t *testing.T) {
	catalog, err := client.ListActivations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, info := range catalog {
		names[info.Name] = true
	}
	for _, name := range []string{"sigmoid", "gelu", "softmax", "prelu"} {
		if !names[name] {
			t.Errorf("%s missing from the catalog", name)
		}
	}
}

func TestHealth(t *testing.T) {
	for _, service := range []string{"", "actserve.v1.ActivationService"} {
		got, err := client.Health(context.Background(), service)
		if err != nil || got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Health(%q) = %v, %v; want SERVING", service, got, err)
		}
	}
}

// checkSigmoid evaluates sigmoid on n float32 values and compares each
// result with float64 arithmetic.
func checkSigmoid(t *testing.T, n int) {
	x := ramp(n)
	result, err := client.Evaluate(context.Background(), &pb.ActivationSpec{Name: "sigmoid"},
		pb.Mode_MODE_FORWARD, Float32Tensor(x, 2, int64(n/2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Output.Shape) != 2 || result.Output.Shape[0] != 2 || result.Output.Shape[1] != int64(n/2) {
		t.Errorf("shape %v, want [2 %d]", result.Output.Shape, n/2)
	}
	y, err := result.Output.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != n {
		t.Fatalf("%d outputs for %d inputs", len(y), n)
	}
	for i := range x {
		want := sigmoid(float64(x[i]))
		if math.Abs(float64(y[i])-want) > 1e-6*want {
			t.Fatalf("sigmoid(%g) = %g, want %g", x[i], y[i], want)
		}
	}
}

func TestEvaluateSmallUnary(t *testing.T) { checkSigmoid(t, 1000) }

// 12 MiB: three times what the server accepts in one message.
func TestEvaluateLargeStreams(t *testing.T) { checkSigmoid(t, 3*serverMessageBytes/4) }

func TestEvaluateFloat64Derivative(t *testing.T) {
	x := []float64{-3, -0.5, 0, 0.5, 3}
	result, err := client.Evaluate(context.Background(), &pb.ActivationSpec{Name: "sigmoid"},
		pb.Mode_MODE_DERIVATIVE, Float64Tensor(x), nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := result.Output.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		s := sigmoid(x[i])
		if want := s * (1 - s); math.Abs(y[i]-want) > 1e-14 {
			t.Errorf("sigmoid'(%g) = %g, want %g", x[i], y[i], want)
		}
	}
}

// prelu backward: grad_input = g where x > 0, alpha*g elsewhere;
// d alpha = sum of x*g where x <= 0. Small (unary) and large (streamed).
func TestEvaluateBackwardWithParameterGradient(t *testing.T) {
	for _, n := range []int{1000, serverMessageBytes / 4} {
		x := ramp(n)
		g := make([]float32, n)
		wantAlpha := 0.0
		for i := range g {
			g[i] = float32(i%7) - 3
			if x[i] <= 0 {
				wantAlpha += float64(x[i]) * float64(g[i])
			}
		}
		gradOutput := Float32Tensor(g)
		result, err := client.Evaluate(context.Background(),
			&pb.ActivationSpec{Name: "prelu", Alpha: proto.Float64(0.1)},
			pb.Mode_MODE_BACKWARD, Float32Tensor(x), &gradOutput)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		gradInput, err := result.Output.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			want := g[i]
			if x[i] <= 0 {
				want = float32(0.1) * g[i]
			}
			if math.Abs(float64(gradInput[i]-want)) > 1e-6 {
				t.Fatalf("n=%d: grad_input[%d] = %g, want %g", n, i, gradInput[i], want)
			}
		}
		alpha, ok := result.ParameterGradients["alpha"]
		if !ok {
			t.Fatalf("n=%d: no alpha gradient in %v", n, result.ParameterGradients)
		}
		got, err := alpha.Float32s()
		if err != nil || len(got) != 1 {
			t.Fatalf("n=%d: alpha gradient %v, %v", n, got, err)
		}
		if math.Abs(float64(got[0])-wantAlpha) > 1e-5*math.Abs(wantAlpha) {
			t.Errorf("n=%d: d alpha = %g, want %g", n, got[0], wantAlpha)
		}
	}
}

func TestErrorsCarryTheServersStatus(t *testing.T) {
	for _, n := range []int{3, serverMessageBytes / 2} { // unary, streamed
		_, err := client.Evaluate(context.Background(), &pb.ActivationSpec{Name: "swoosh"},
			pb.Mode_MODE_FORWARD, Float32Tensor(ramp(n)), nil)
		if s := status.Convert(err); s.Code() != codes.InvalidArgument ||
			!strings.Contains(s.Message(), "activation.name") {
			t.Errorf("n=%d: got %v, want INVALID_ARGUMENT naming activation.name", n, err)
		}
	}
	_, err := client.Evaluate(context.Background(), &pb.ActivationSpec{Name: "relu"},
		pb.Mode_MODE_BACKWARD, Float32Tensor([]float32{1}), nil)
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("backward without gradOutput: %v, want INVALID_ARGUMENT", err)
	}
}
