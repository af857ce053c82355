#include "core/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/echo.h"
#include "core/registry.h"

namespace actserve {
namespace {

// Work is split into blocks of this many input elements, aligned to the
// tensor's element index (never to the thread count), so results are bitwise
// the same for any number of threads and any block-aligned split of a stream.
constexpr int64_t kBlockElements = 16384;
// Below this many elements a call runs on the calling thread alone. Measured
// with bench/activation_bench (2 threads against 1, float32 forward, on the
// 2-core development VM): handing blocks to a second thread loses below
// 128 Ki elements (0.65x relu, 0.95x sigmoid), gains from 256 Ki for the
// transcendental functions (1.26x) and from 512 Ki for relu (1.13x); at
// 1 Mi it is 1.74x for gelu, 1.38x for relu (memory bound).
constexpr int64_t kParallelGrainElements = 262144;

// Runs fn(0) ... fn(tasks - 1) on the pool, or inline when the work is too
// small to repay waking another thread; the tasks are the same either way.
void ForEachTask(ThreadPool& pool, int64_t tasks, int64_t elements,
                 absl::FunctionRef<void(int64_t)> fn) {
  if (elements < kParallelGrainElements) {
    for (int64_t t = 0; t < tasks; ++t) fn(t);
    return;
  }
  pool.ParallelFor(tasks, fn);
}

// Whether a run writing `elements` outputs of storage type T streams them
// (Evaluation::kStreamOutputBytes). Half types reach the kernels in float32
// buffers of their own, always in cache.
template <typename T>
bool StreamsOutput(int64_t elements) {
  return !std::is_same_v<T, uint16_t> &&
         elements * static_cast<int64_t>(sizeof(T)) >=
             Evaluation::kStreamOutputBytes;
}

// Half-precision inputs are widened to float32 in stack pieces of this size.
constexpr int64_t kWidenPiece = 2048;

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

std::string ParamField(ParamId id) {
  return absl::StrCat("activation.", ParamName(id));
}

std::string DescribeParams(const ActivationDef& def) {
  if (def.params.empty()) return "it has none";
  return absl::StrCat(
      "it has: ",
      absl::StrJoin(def.params, ", ", [](std::string* out, const ParamDef& p) {
        absl::StrAppend(out, ParamName(p.id));
      }));
}

absl::Status CheckDomain(const ParamDef& param, double value) {
  if (std::isnan(value)) return FieldError(ParamField(param.id), "is NaN");
  const bool above_lower =
      param.lower_inclusive ? value >= param.lower : value > param.lower;
  const bool below_upper =
      param.upper_inclusive ? value <= param.upper : value < param.upper;
  if (!above_lower || !below_upper || std::isinf(value)) {
    return FieldError(
        ParamField(param.id),
        absl::StrCat(value, " is outside its domain (", param.domain, ")"));
  }
  return absl::OkStatus();
}

// Resolved parameters of one request.
struct ResolvedParams {
  KernelParams kernel;
  int64_t axis = 0;
  int64_t pieces = 1;
  std::vector<double> channel_alpha;
};

absl::StatusOr<ResolvedParams> ResolveParams(const ActivationDef& def,
                                             const ActivationParams& given) {
  struct RealField {
    ParamId id;
    const std::optional<double>* value;
    double* target;
  };
  ResolvedParams out;
  const RealField reals[] = {
      {ParamId::kAlpha, &given.alpha, &out.kernel.alpha},
      {ParamId::kBeta, &given.beta, &out.kernel.beta},
      {ParamId::kMin, &given.min, &out.kernel.min},
      {ParamId::kMax, &given.max, &out.kernel.max},
      {ParamId::kThreshold, &given.threshold, &out.kernel.threshold},
  };
  for (const RealField& field : reals) {
    const ParamDef* param = def.FindParam(field.id);
    if (param == nullptr) {
      if (field.value->has_value()) {
        return FieldError(ParamField(field.id),
                          absl::StrCat(def.name, " has no such parameter (",
                                       DescribeParams(def), ")"));
      }
      continue;
    }
    const double value = field.value->value_or(param->default_value);
    if (absl::Status s = CheckDomain(*param, value); !s.ok()) return s;
    *field.target = value;
  }

  struct IntegerField {
    ParamId id;
    const std::optional<int64_t>* value;
    int64_t* target;
  };
  const IntegerField integers[] = {
      {ParamId::kAxis, &given.axis, &out.axis},
      {ParamId::kPieces, &given.pieces, &out.pieces},
  };
  for (const IntegerField& field : integers) {
    const ParamDef* param = def.FindParam(field.id);
    if (param == nullptr) {
      if (field.value->has_value()) {
        return FieldError(ParamField(field.id),
                          absl::StrCat(def.name, " has no such parameter (",
                                       DescribeParams(def), ")"));
      }
      continue;
    }
    const int64_t value =
        field.value->value_or(static_cast<int64_t>(param->default_value));
    if (absl::Status s = CheckDomain(*param, static_cast<double>(value));
        !s.ok()) {
      return s;
    }
    *field.target = value;
  }

  if (!given.channel_alpha.empty()) {
    const ParamDef* param = def.FindParam(ParamId::kChannelAlpha);
    if (param == nullptr) {
      return FieldError(ParamField(ParamId::kChannelAlpha),
                        absl::StrCat(def.name, " has no such parameter (",
                                     DescribeParams(def), ")"));
    }
    for (size_t i = 0; i < given.channel_alpha.size(); ++i) {
      if (!std::isfinite(given.channel_alpha[i])) {
        return FieldError(
            absl::StrCat(ParamField(ParamId::kChannelAlpha), "[", i, "]"),
            "must be finite");
      }
    }
    out.channel_alpha = given.channel_alpha;
  }
  if (def.validate != nullptr) {
    if (absl::Status s = def.validate(out.kernel); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<int64_t> CountElements(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return FieldError(absl::StrCat("shape[", i, "]"),
                        absl::StrCat("dimension ", shape[i], " is negative"));
    }
    if (shape[i] != 0 &&
        count > std::numeric_limits<int64_t>::max() / shape[i]) {
      return FieldError("shape", "element count overflows int64");
    }
    count *= shape[i];
  }
  return count;
}

absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, size_t rank,
                                      absl::string_view activation) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return FieldError(ParamField(ParamId::kAxis),
                      absl::StrCat("axis ", axis, " is out of range for ",
                                   activation, " on a tensor of rank ", r,
                                   " (valid: ", -r, " to ", r - 1, ")"));
  }
  return axis < 0 ? axis + r : axis;
}

int64_t Product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

template <typename T>
const ElementwiseKernels<T>& KernelsOf(const ActivationDef& def) {
  if constexpr (sizeof(T) == 4) {
    return def.f32;
  } else {
    return def.f64;
  }
}

template <typename T>
const AxisKernels<T>& AxisKernelsOf(const ActivationDef& def) {
  if constexpr (sizeof(T) == 4) {
    return def.axis_f32;
  } else {
    return def.axis_f64;
  }
}

}  // namespace

absl::StatusOr<Evaluation> Evaluation::Create(const EvaluationRequest& request,
                                              const EvaluationLimits& limits) {
  const ActivationDef* def = FindActivation(request.activation);
  if (def == nullptr) {
    return FieldError(
        "activation.name",
        absl::StrCat("unknown activation '", EchoText(request.activation),
                     "'; valid names: ", ActivationNames()));
  }
  absl::StatusOr<ResolvedParams> params = ResolveParams(*def, request.params);
  if (!params.ok()) return params.status();
  absl::StatusOr<int64_t> elements = CountElements(request.shape);
  if (!elements.ok()) return elements.status();
  if (*elements > limits.max_elements) {
    return absl::ResourceExhaustedError(
        absl::StrCat("shape: ", *elements, " elements exceed the limit of ",
                     limits.max_elements, " per tensor"));
  }

  Evaluation e;
  e.def_ = def;
  e.mode_ = request.mode;
  e.dtype_ = request.dtype;
  e.kernel_params_ = params->kernel;
  e.channel_alpha_ = std::move(params->channel_alpha);
  e.input_shape_ = request.shape;
  e.output_shape_ = request.shape;
  e.grad_shape_ = request.shape;
  const std::vector<int64_t>& shape = request.shape;

  if (def->kind == ActivationKind::kElementwise) {
    e.outer_ = *elements;
    e.units_ = *elements;
    if (!e.channel_alpha_.empty()) {
      const int64_t channels = static_cast<int64_t>(e.channel_alpha_.size());
      const ParamDef* axis_param = def->FindParam(ParamId::kAxis);
      const int64_t requested = request.params.axis.value_or(
          axis_param != nullptr
              ? static_cast<int64_t>(axis_param->default_value)
              : 1);
      if (shape.empty()) {
        return FieldError(ParamField(ParamId::kChannelAlpha),
                          "per-channel slopes need an input of rank >= 1");
      }
      absl::StatusOr<int64_t> axis =
          NormalizeAxis(requested, shape.size(), def->name);
      if (!axis.ok()) return axis.status();
      if (shape[*axis] != channels) {
        return FieldError(
            ParamField(ParamId::kChannelAlpha),
            absl::StrCat("has ", channels, " slopes but the input has ",
                         shape[*axis], " channels along axis ", *axis));
      }
      e.axis_len_ = channels;
      e.inner_ = Product(shape, *axis + 1, shape.size());
    }
  } else {
    // A scalar is a vector of length 1 along any axis.
    const std::vector<int64_t> as_vector =
        shape.empty() ? std::vector<int64_t>{1} : shape;
    absl::StatusOr<int64_t> axis =
        NormalizeAxis(params->axis, as_vector.size(), def->name);
    if (!axis.ok()) return axis.status();
    e.axis_len_ = as_vector[*axis];
    e.outer_ = Product(as_vector, 0, *axis);
    e.inner_ = Product(as_vector, *axis + 1, as_vector.size());
    e.units_ = *elements == 0 ? 0 : e.outer_;
    e.input_unit_ = e.axis_len_ * e.inner_;
    e.output_unit_ = e.input_unit_;
    e.grad_unit_ = e.input_unit_;
    if (def->kind == ActivationKind::kGrouped) {
      e.pieces_ = params->pieces;
      if (e.axis_len_ % e.pieces_ != 0) {
        return FieldError(
            ParamField(ParamId::kPieces),
            absl::StrCat(def->name, " needs the length of axis ", *axis, " (",
                         e.axis_len_, ") to be a multiple of pieces (",
                         e.pieces_, ")"));
      }
      std::vector<int64_t> reduced = as_vector;
      reduced[*axis] /= e.pieces_;
      if (shape.empty()) reduced.clear();
      e.grad_unit_ = e.input_unit_ / e.pieces_;
      e.grad_shape_ = reduced;
      if (e.mode_ == Mode::kForward) {
        e.output_shape_ = reduced;
        e.output_unit_ = e.grad_unit_;
      }
    } else if (e.mode_ == Mode::kDerivative) {
      // One K x K Jacobian per slice: [other dims..., K, K].
      std::vector<int64_t> jacobian;
      for (size_t i = 0; i < as_vector.size(); ++i) {
        if (static_cast<int64_t>(i) != *axis) jacobian.push_back(as_vector[i]);
      }
      jacobian.push_back(e.axis_len_);
      jacobian.push_back(e.axis_len_);
      const int64_t slices = e.outer_ * e.inner_;
      const long double jacobian_elements =
          static_cast<long double>(slices) * e.axis_len_ * e.axis_len_;
      if (jacobian_elements > limits.max_jacobian_elements) {
        return FieldError(
            "mode",
            absl::StrCat("the derivative of ", def->name, " is a Jacobian of ",
                         slices, " x ", e.axis_len_, " x ", e.axis_len_,
                         " elements, above the limit of ",
                         limits.max_jacobian_elements,
                         "; use backward mode for gradients"));
      }
      e.output_shape_ = std::move(jacobian);
      e.output_unit_ = e.inner_ * e.axis_len_ * e.axis_len_;
    }
  }
  return e;
}

std::vector<ParameterGradient> Evaluation::NewParameterGradients() const {
  std::vector<ParameterGradient> grads;
  if (mode_ != Mode::kBackward) return grads;
  for (const ParamDef& param : def_->params) {
    if (!param.learnable) continue;
    ParameterGradient g;
    g.name = std::string(ParamName(param.id));
    if (param.id == ParamId::kAlpha && !channel_alpha_.empty()) {
      g.shape = {static_cast<int64_t>(channel_alpha_.size())};
      g.values.assign(channel_alpha_.size(), 0.0);
    } else {
      g.values.assign(1, 0.0);
    }
    grads.push_back(std::move(g));
  }
  return grads;
}

namespace {

// One elementwise call over [begin, end) of the tensor, with pointers already
// at `begin`. Splits per-channel prelu into runs of one slope.
template <typename T>
void ApplyElementwise(const ElementwiseKernels<T>& k, Mode mode,
                      const KernelParams& params,
                      const std::vector<double>& channel_alpha,
                      int64_t channel_inner, int64_t begin, int64_t end,
                      const T* x, const T* g, T* out) {
  const auto run = [&](const KernelParams& p, int64_t offset, int64_t n) {
    switch (mode) {
      case Mode::kForward:
        k.forward(x + offset, out + offset, n, p);
        break;
      case Mode::kDerivative:
        k.derivative(x + offset, out + offset, n, p);
        break;
      case Mode::kBackward:
        k.backward(x + offset, g + offset, out + offset, n, p);
        break;
    }
  };
  if (channel_alpha.empty()) {
    run(params, 0, end - begin);
    return;
  }
  const int64_t channels = static_cast<int64_t>(channel_alpha.size());
  KernelParams p = params;
  for (int64_t i = begin; i < end;) {
    const int64_t channel = (i / channel_inner) % channels;
    const int64_t n = std::min(end - i, channel_inner - i % channel_inner);
    p.alpha = channel_alpha[channel];
    run(p, i - begin, n);
    i += n;
  }
}

// Calls fn(x, g, n) on float32 copies of `n` half elements, in stack pieces.
template <typename Fn>
void ForEachWidenedPiece(DType dtype, const uint16_t* x, const uint16_t* g,
                         int64_t n, Fn fn) {
  float xs[kWidenPiece];
  float gs[kWidenPiece];
  for (int64_t i = 0; i < n; i += kWidenPiece) {
    const int64_t m = std::min(kWidenPiece, n - i);
    WidenToFloat32(dtype, x + i, xs, m);
    if (g != nullptr) WidenToFloat32(dtype, g + i, gs, m);
    fn(xs, g != nullptr ? gs : nullptr, i, m);
  }
}

}  // namespace

absl::Status Evaluation::Run(int64_t first_unit, int64_t count, const void* x,
                             const void* grad_output, void* out,
                             std::vector<ParameterGradient>* param_grads,
                             ThreadPool& pool) const {
  if (first_unit < 0 || count < 0 || first_unit > units_ - count) {
    return absl::InvalidArgumentError(
        absl::StrCat("units [", first_unit, ", ", first_unit + count,
                     ") are outside the tensor's ", units_, " units"));
  }
  if (mode_ == Mode::kBackward && grad_output == nullptr && count > 0) {
    return FieldError("grad_output", "is required in backward mode");
  }
  if (param_grads != nullptr) {
    const std::vector<ParameterGradient> expected = NewParameterGradients();
    bool matches = param_grads->size() == expected.size();
    for (size_t i = 0; matches && i < expected.size(); ++i) {
      matches = (*param_grads)[i].values.size() == expected[i].values.size();
    }
    if (!matches) {
      return absl::InvalidArgumentError(
          "param_grads: not made by NewParameterGradients()");
    }
  }
  if (count == 0) return absl::OkStatus();
  const bool want_param_grads = param_grads != nullptr &&
                                !param_grads->empty() &&
                                mode_ == Mode::kBackward;
  std::vector<ParameterGradient>* grads =
      want_param_grads ? param_grads : nullptr;
  // Half types are stored as uint16_t and computed in float32.
  const auto run = [&](auto storage) {
    using T = decltype(storage);
    if (def_->kind == ActivationKind::kElementwise) {
      RunElementwise<T>(first_unit, count, x, grad_output, out, grads, pool);
    } else {
      RunAxis<T>(first_unit, count, x, grad_output, out, pool);
    }
  };
  switch (dtype_) {
    case DType::kFloat32:
      run(float{});
      break;
    case DType::kFloat64:
      run(double{});
      break;
    case DType::kFloat16:
    case DType::kBFloat16:
      run(uint16_t{});
      break;
  }
  return absl::OkStatus();
}

// T is float, double, or uint16_t for the half types (computed in float32).
template <typename T>
void Evaluation::RunElementwise(int64_t first, int64_t count, const void* xv,
                                const void* gv, void* outv,
                                std::vector<ParameterGradient>* grads,
                                ThreadPool& pool) const {
  using Compute = std::conditional_t<std::is_same_v<T, uint16_t>, float, T>;
  const ElementwiseKernels<Compute>& k = KernelsOf<Compute>(*def_);
  const T* x = static_cast<const T*>(xv);
  const T* g = static_cast<const T*>(gv);
  T* out = static_cast<T*>(outv);
  const int64_t end = first + count;
  const int64_t first_block = first / kBlockElements;
  const int64_t blocks = (end - 1) / kBlockElements - first_block + 1;
  const bool per_channel = !channel_alpha_.empty();
  KernelParams params = kernel_params_;
  // Per-channel prelu reaches the kernels in runs of one channel, as short as
  // one element.
  params.stream_output = !per_channel && StreamsOutput<T>(count);

  if (grads != nullptr) {
    // Backward with a learnable parameter: gx and the parameter gradient in
    // one pass over [lo, hi) (`out` may alias x or g; the kernel loads each
    // vector before it stores gx).
    const auto fused = [&](const KernelParams& p, int64_t lo, int64_t hi) {
      const T* xb = x + (lo - first);
      const T* gb = g + (lo - first);
      T* ob = out + (lo - first);
      if constexpr (std::is_same_v<T, uint16_t>) {
        double sum = 0;
        ForEachWidenedPiece(
            dtype_, xb, gb, hi - lo,
            [&](const float* xs, const float* gs, int64_t offset, int64_t m) {
              float ys[kWidenPiece];
              sum += k.backward_with_param_grad(xs, gs, ys, m, p);
              NarrowFromFloat32(dtype_, ys, ob + offset, m);
            });
        return sum;
      } else {
        return k.backward_with_param_grad(xb, gb, ob, hi - lo, p);
      }
    };
    std::vector<double>& values = (*grads)[0].values;
    if (per_channel) {
      // One thread per channel; its runs are disjoint from every other
      // channel's, so the gx writes don't race. Each block's share of a
      // channel is summed first and added to the total in block order, like
      // the scalar path, so Runs split at block boundaries give the bits of
      // one Run.
      const int64_t channels = axis_len_;
      ForEachTask(pool, channels, count, [&](int64_t c) {
        KernelParams p = params;
        p.alpha = channel_alpha_[c];
        const int64_t row = channels * inner_;
        int64_t block = -1;
        double block_sum = 0;
        for (int64_t o = first / row; o * row < end; ++o) {
          int64_t lo = std::max(first, o * row + c * inner_);
          const int64_t hi = std::min(end, o * row + (c + 1) * inner_);
          while (lo < hi) {
            const int64_t lo_block = lo / kBlockElements;
            if (lo_block != block) {
              values[c] += block_sum;
              block_sum = 0;
              block = lo_block;
            }
            const int64_t piece_end =
                std::min(hi, (lo_block + 1) * kBlockElements);
            block_sum += fused(p, lo, piece_end);
            lo = piece_end;
          }
        }
        values[c] += block_sum;
      });
    } else {
      std::vector<double> partial(blocks);
      ForEachTask(pool, blocks, count, [&](int64_t b) {
        const int64_t lo = std::max(first, (first_block + b) * kBlockElements);
        const int64_t hi =
            std::min(end, (first_block + b + 1) * kBlockElements);
        partial[b] = fused(params, lo, hi);
      });
      for (double p : partial) values[0] += p;
    }
    return;
  }

  ForEachTask(pool, blocks, count, [&](int64_t b) {
    const int64_t lo = std::max(first, (first_block + b) * kBlockElements);
    const int64_t hi = std::min(end, (first_block + b + 1) * kBlockElements);
    const T* xb = x + (lo - first);
    const T* gb = g != nullptr ? g + (lo - first) : nullptr;
    T* ob = out + (lo - first);
    if constexpr (std::is_same_v<T, uint16_t>) {
      ForEachWidenedPiece(
          dtype_, xb, gb, hi - lo,
          [&](const float* xs, const float* gs, int64_t offset, int64_t m) {
            float ys[kWidenPiece];
            ApplyElementwise<float>(k, mode_, params, channel_alpha_, inner_,
                                    lo + offset, lo + offset + m, xs, gs, ys);
            NarrowFromFloat32(dtype_, ys, ob + offset, m);
          });
    } else {
      ApplyElementwise<T>(k, mode_, params, channel_alpha_, inner_, lo, hi, xb,
                          gb, ob);
    }
  });
}

int64_t Evaluation::block_units() const {
  if (def_->kind == ActivationKind::kElementwise) return kBlockElements;
  return std::max<int64_t>(1,
                           kBlockElements / std::max<int64_t>(1, input_unit_));
}

template <typename T>
void Evaluation::RunAxis(int64_t first, int64_t count, const void* xv,
                         const void* gv, void* outv, ThreadPool& pool) const {
  using Compute = std::conditional_t<std::is_same_v<T, uint16_t>, float, T>;
  const AxisKernels<Compute>& k = AxisKernelsOf<Compute>(*def_);
  const T* x = static_cast<const T*>(xv);
  const T* g = static_cast<const T*>(gv);
  T* out = static_cast<T*>(outv);
  const int64_t rows_per_block = block_units();
  const int64_t end = first + count;
  const int64_t first_block = first / rows_per_block;
  const int64_t blocks = (end - 1) / rows_per_block - first_block + 1;
  const bool stream = StreamsOutput<T>(count * output_unit_);
  ForEachTask(pool, blocks, count * input_unit_, [&](int64_t b) {
    const int64_t lo = std::max(first, (first_block + b) * rows_per_block);
    const int64_t hi = std::min(end, (first_block + b + 1) * rows_per_block);
    const SliceShape s{
        static_cast<size_t>(hi - lo), static_cast<size_t>(axis_len_),
        static_cast<size_t>(inner_), static_cast<size_t>(pieces_), stream};
    const T* xb = x + (lo - first) * input_unit_;
    const T* gb = g != nullptr ? g + (lo - first) * grad_unit_ : nullptr;
    T* ob = out + (lo - first) * output_unit_;
    const int64_t rows = hi - lo;
    if constexpr (std::is_same_v<T, uint16_t>) {
      // Slices can be long; the half path takes heap buffers.
      std::vector<float> xs(rows * input_unit_);
      std::vector<float> gs(gb != nullptr ? rows * grad_unit_ : 0);
      std::vector<float> ys(rows * output_unit_);
      WidenToFloat32(dtype_, xb, xs.data(), xs.size());
      if (gb != nullptr) WidenToFloat32(dtype_, gb, gs.data(), gs.size());
      RunAxisKernel(k, s, xs.data(), gs.data(), ys.data());
      NarrowFromFloat32(dtype_, ys.data(), ob, ys.size());
    } else {
      RunAxisKernel(k, s, xb, gb, ob);
    }
  });
}

template <typename T>
void Evaluation::RunAxisKernel(const AxisKernels<T>& k, const SliceShape& s,
                               const T* x, const T* g, T* out) const {
  switch (mode_) {
    case Mode::kForward:
      k.forward(x, out, s);
      break;
    case Mode::kDerivative:
      k.derivative(x, out, s);
      break;
    case Mode::kBackward:
      k.backward(x, g, out, s);
      break;
  }
}

}  // namespace actserve
