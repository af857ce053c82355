// Package actserve is a Go client of actserve.v1.ActivationService: dense
// tensors in, dense tensors out. Requests that would not fit in one message
// go over the bidirectional EvaluateStream RPC by themselves, as in the CLI,
// Python and Node clients.
//
// It builds in GOPATH mode from Debian's packages (golang-google-grpc-dev,
// golang-google-protobuf-dev); the stubs in actserve/v1/actservepb are
// generated from proto/actserve/v1/actserve.proto (see client/README.md).
package actserve

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	pb "actserve/v1/actservepb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Servers accept 4 MiB messages unless configured otherwise; requests with
// more tensor bytes than this less a margin for the other fields go over
// EvaluateStream (the same rule as the other clients).
const (
	defaultUnaryLimit = 4 << 20
	margin            = 64 << 10
)

// Options configure a Client; zero fields take the defaults.
type Options struct {
	// TLS credentials; nil: plaintext.
	Credentials credentials.TransportCredentials
	// Time allowed for each call whose context has no deadline (60 s).
	Timeout time.Duration
	// Largest message sent or received (64 MiB).
	MaxMessageBytes int
	// Bytes per streamed request message and per response chunk (1 MiB).
	ChunkBytes int
}

// Client is a connection to an actserve server; safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	service pb.ActivationServiceClient
	health  healthpb.HealthClient
	timeout time.Duration
	// Bytes per streamed request message and per response chunk.
	chunkBytes int
	// Requests with more tensor bytes than this use EvaluateStream.
	streamThresholdBytes int
}

// Dial connects to target: "host:port" or "dns:///name:port" (spread over
// every address the name resolves to, round-robin).
func Dial(target string, options Options) (*Client, error) {
	if options.Timeout == 0 {
		options.Timeout = 60 * time.Second
	}
	if options.MaxMessageBytes == 0 {
		options.MaxMessageBytes = 64 << 20
	}
	if options.ChunkBytes == 0 {
		options.ChunkBytes = 1 << 20
	}
	transport := grpc.WithInsecure()
	if options.Credentials != nil {
		transport = grpc.WithTransportCredentials(options.Credentials)
	}
	dialOptions := []grpc.DialOption{
		transport,
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(options.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(options.MaxMessageBytes)),
	}
	if strings.HasPrefix(target, "dns:") {
		dialOptions = append(dialOptions, grpc.WithDefaultServiceConfig(
			`{"loadBalancingConfig": [{"round_robin": {}}]}`))
	}
	conn, err := grpc.Dial(target, dialOptions...)
	if err != nil {
		return nil, err
	}
	threshold := options.MaxMessageBytes
	if threshold > defaultUnaryLimit {
		threshold = defaultUnaryLimit
	}
	return &Client{
		conn:                 conn,
		service:              pb.NewActivationServiceClient(conn),
		health:               healthpb.NewHealthClient(conn),
		timeout:              options.Timeout,
		chunkBytes:           options.ChunkBytes,
		streamThresholdBytes: threshold - margin,
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// withTimeout applies the client's timeout to a context that has no deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// ListActivations returns the catalog: every activation, its parameters,
// modes and accuracy.
func (c *Client) ListActivations(ctx context.Context) ([]*pb.ActivationInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	response, err := c.service.ListActivations(ctx, &pb.ListActivationsRequest{})
	if err != nil {
		return nil, err
	}
	return response.Activations, nil
}

// Health asks grpc.health.v1 about service ("" for the server as a whole).
func (c *Client) Health(ctx context.Context, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	response, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return response.Status, nil
}

// Tensor is a dense row-major tensor of little-endian elements, as on the
// wire: len(Data) is the product of Shape times the element size.
type Tensor struct {
	Shape []int64
	DType pb.DType
	Data  []byte
}

// Float32Tensor copies values into a float32 tensor of the given shape
// (default: a vector of len(values)).
func Float32Tensor(values []float32, shape ...int64) Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return Tensor{Shape: shapeOr(shape, len(values)), DType: pb.DType_DTYPE_FLOAT32, Data: data}
}

// Float64Tensor copies values into a float64 tensor of the given shape
// (default: a vector of len(values)).
func Float64Tensor(values []float64, shape ...int64) Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(v))
	}
	return Tensor{Shape: shapeOr(shape, len(values)), DType: pb.DType_DTYPE_FLOAT64, Data: data}
}

func shapeOr(shape []int64, count int) []int64 {
	if len(shape) == 0 {
		return []int64{int64(count)}
	}
	return shape
}

// Float32s returns the elements of a float32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if t.DType != pb.DType_DTYPE_FLOAT32 {
		return nil, fmt.Errorf("tensor is %v, not DTYPE_FLOAT32", t.DType)
	}
	values := make([]float32, len(t.Data)/4)
	for i := range values {
		values[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return values, nil
}

// Float64s returns the elements of a float64 tensor.
func (t Tensor) Float64s() ([]float64, error) {
	if t.DType != pb.DType_DTYPE_FLOAT64 {
		return nil, fmt.Errorf("tensor is %v, not DTYPE_FLOAT64", t.DType)
	}
	values := make([]float64, len(t.Data)/8)
	for i := range values {
		values[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return values, nil
}

// elementBytes is the size of one element of dtype, 0 if unknown.
func elementBytes(dtype pb.DType) int {
	switch dtype {
	case pb.DType_DTYPE_FLOAT32:
		return 4
	case pb.DType_DTYPE_FLOAT64:
		return 8
	case pb.DType_DTYPE_FLOAT16, pb.DType_DTYPE_BFLOAT16:
		return 2
	}
	return 0
}

func (t Tensor) message() *pb.Tensor {
	return &pb.Tensor{Shape: t.Shape, Dtype: t.DType, Data: t.Data}
}

// Result is what Evaluate returns.
type Result struct {
	Output Tensor
	// Backward mode: gradients of learnable parameters by name ("alpha" of
	// prelu, "beta" of swish).
	ParameterGradients map[string]Tensor
}

// Evaluate computes activation spec in mode on x. gradOutput is required in
// MODE_BACKWARD (shaped like the forward output) and must be nil otherwise.
// Failed calls return the server's status (status.FromError reads it).
func (c *Client) Evaluate(ctx context.Context, spec *pb.ActivationSpec, mode pb.Mode, x Tensor, gradOutput *Tensor) (*Result, error) {
	if (mode == pb.Mode_MODE_BACKWARD) != (gradOutput != nil) {
		return nil, status.Error(codes.InvalidArgument,
			"gradOutput is required in MODE_BACKWARD and only there")
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	size := len(x.Data)
	if gradOutput != nil {
		size += len(gradOutput.Data)
	}
	if size > c.streamThresholdBytes {
		return c.evaluateStream(ctx, spec, mode, x, gradOutput)
	}
	return c.evaluateUnary(ctx, spec, mode, x, gradOutput)
}

func (c *Client) evaluateUnary(ctx context.Context, spec *pb.ActivationSpec, mode pb.Mode, x Tensor, gradOutput *Tensor) (*Result, error) {
	request := &pb.EvaluateRequest{
		Activation: spec,
		Mode:       mode,
		Inputs:     []*pb.Tensor{x.message()},
		ChunkBytes: int64(c.chunkBytes),
	}
	if gradOutput != nil {
		request.GradOutputs = []*pb.Tensor{gradOutput.message()}
	}
	call, err := c.service.Evaluate(ctx, request)
	if err != nil {
		return nil, err
	}
	var output outputAssembler
	result := &Result{}
	for {
		response, err := call.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch payload := response.Payload.(type) {
		case *pb.EvaluateResponse_Chunk:
			if err := output.add(payload.Chunk); err != nil {
				return nil, err
			}
		case *pb.EvaluateResponse_ParameterGradients:
			result.ParameterGradients = gradientsByName(payload.ParameterGradients.Gradients)
		}
	}
	if result.Output, err = output.result(); err != nil {
		return nil, err
	}
	return result, nil
}

func (c *Client) evaluateStream(ctx context.Context, spec *pb.ActivationSpec, mode pb.Mode, x Tensor, gradOutput *Tensor) (*Result, error) {
	item := elementBytes(x.DType)
	if item == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "x: unsupported dtype %v", x.DType)
	}
	// Cancels the sender too when the receiver stops early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	call, err := c.service.EvaluateStream(ctx)
	if err != nil {
		return nil, err
	}
	// Sending runs beside receiving: the server streams results back while
	// the input is still arriving, and both directions are flow-controlled.
	sent := make(chan error, 1)
	go func() { sent <- c.sendStream(call, spec, mode, x, gradOutput, item) }()

	var output outputAssembler
	result := &Result{}
	for {
		response, err := call.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch payload := response.Payload.(type) {
		case *pb.EvaluateStreamResponse_Chunk:
			if err := output.add(payload.Chunk); err != nil {
				return nil, err
			}
		case *pb.EvaluateStreamResponse_Done:
			result.ParameterGradients = gradientsByName(payload.Done.ParameterGradients)
		}
	}
	// io.EOF from Send means the server ended the call; Recv reported how.
	if err := <-sent; err != nil && err != io.EOF {
		return nil, err
	}
	if result.Output, err = output.result(); err != nil {
		return nil, err
	}
	return result, nil
}

// sendStream sends the header, then x (and gradOutput, split at the same
// fraction so the server can compute each piece as it arrives) in chunks.
func (c *Client) sendStream(call pb.ActivationService_EvaluateStreamClient, spec *pb.ActivationSpec, mode pb.Mode, x Tensor, gradOutput *Tensor, item int) error {
	header := &pb.EvaluateStreamRequest{Payload: &pb.EvaluateStreamRequest_Header{
		Header: &pb.StreamHeader{
			Activation: spec, Mode: mode, Shape: x.Shape, Dtype: x.DType,
			ChunkBytes: int64(c.chunkBytes),
		}}}
	if err := call.Send(header); err != nil {
		return err
	}
	xCount := len(x.Data) / item
	gradCount := 0
	if gradOutput != nil {
		gradCount = len(gradOutput.Data) / item
	}
	step := c.chunkBytes / item
	if step < 1 {
		step = 1
	}
	// An empty x still needs one data message.
	for begin := 0; ; {
		end := begin + step
		if end > xCount {
			end = xCount
		}
		data := &pb.StreamData{XOffset: int64(begin), X: x.Data[begin*item : end*item]}
		if gradOutput != nil {
			gradBegin, gradEnd := 0, gradCount
			if xCount > 0 {
				gradBegin, gradEnd = gradCount*begin/xCount, gradCount*end/xCount
			}
			data.GradOffset = int64(gradBegin)
			data.GradOutput = gradOutput.Data[gradBegin*item : gradEnd*item]
		}
		if err := call.Send(&pb.EvaluateStreamRequest{
			Payload: &pb.EvaluateStreamRequest_Data{Data: data}}); err != nil {
			return err
		}
		begin = end
		if begin >= xCount {
			break
		}
	}
	return call.CloseSend()
}

func gradientsByName(gradients []*pb.ParameterGradient) map[string]Tensor {
	byName := make(map[string]Tensor, len(gradients))
	for _, g := range gradients {
		byName[g.Name] = Tensor{Shape: g.Gradient.Shape, DType: g.Gradient.Dtype, Data: g.Gradient.Data}
	}
	return byName
}

// outputAssembler rebuilds one output tensor from its chunks into a single
// buffer allocated when the header arrives.
type outputAssembler struct {
	tensor   *Tensor
	item     int
	received int
}

func (a *outputAssembler) add(chunk *pb.OutputChunk) error {
	if chunk.Header != nil {
		if a.tensor != nil {
			return status.Error(codes.Internal, "the server sent a second output header")
		}
		a.item = elementBytes(chunk.Header.Dtype)
		if a.item == 0 {
			return status.Errorf(codes.Internal, "the server sent an unknown dtype %v", chunk.Header.Dtype)
		}
		count := int64(1)
		for _, dim := range chunk.Header.Shape {
			count *= dim
		}
		a.tensor = &Tensor{Shape: chunk.Header.Shape, DType: chunk.Header.Dtype,
			Data: make([]byte, count*int64(a.item))}
	} else if a.tensor == nil {
		return status.Error(codes.Internal, "the server sent data before its header")
	}
	start := chunk.ElementOffset * int64(a.item)
	if start < 0 || start+int64(len(chunk.Data)) > int64(len(a.tensor.Data)) {
		return status.Error(codes.Internal, "the server sent a chunk out of bounds")
	}
	a.received += copy(a.tensor.Data[start:], chunk.Data)
	return nil
}

func (a *outputAssembler) result() (Tensor, error) {
	if a.tensor == nil || a.received != len(a.tensor.Data) {
		return Tensor{}, status.Error(codes.Internal, "the server's output is incomplete")
	}
	return *a.tensor, nil
}
