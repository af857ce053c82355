// maxout along an axis: each group of `pieces` consecutive elements reduces
// to its maximum (Goodfellow et al. 2013, the max over linear pieces; the
// pieces are computed upstream). The axis shrinks `pieces`-fold.
//
// Exact: the result is one of the inputs. The winner of a group is its first
// maximal element (ties go to the first, as PyTorch's max); the derivative is
// a 0/1 mask marking it and backward routes g to it. A group holding NaN is
// NaN in every mode (forward, all of its mask entries, all of its gx).
// With inner > 1 the vectors run over inner; with inner == 1 each group is
// handled one lane at a time (the elements of a group are adjacent, and
// Highway 1.0.3 has no strided loads for general `pieces`).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/maxout.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include <algorithm>
#include <cstddef>
#include <limits>

#include "core/kernels/axis_kernels.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const T* p, size_t n) {
  if (n == hn::Lanes(d)) return hn::LoadU(d, p);
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
  std::copy(p, p + n, buf);
  return hn::Load(d, buf);
}

template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StorePartial(D d, hn::Vec<D> v, T* p, size_t n) {
  if (n == hn::Lanes(d)) return hn::StoreU(v, d, p);
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)];
  hn::Store(v, d, buf);
  std::copy(buf, buf + n, p);
}

// Finds each group's winner and calls
//   emit(d, max, winner, nan, x_offset, y_offset, lanes)
// where x_offset is the group's first element and y_offset its output.
template <typename T, class Emit>
void ForEachGroup(const T* x, const SliceShape& s, Emit emit) {
  const auto run = [&](auto d) {
    using V = hn::Vec<decltype(d)>;
    const size_t lanes = hn::Lanes(d);
    const size_t groups = s.axis_len / s.pieces;
    for (size_t o = 0; o < s.outer; ++o) {
      for (size_t gi = 0; gi < groups; ++gi) {
        for (size_t c = 0; c < s.inner; c += lanes) {
          const size_t n = std::min(lanes, s.inner - c);
          const size_t x_offset =
              (o * s.axis_len + gi * s.pieces) * s.inner + c;
          V m = LoadPartial(d, x + x_offset, n);
          V winner = hn::Zero(d);
          auto nan = hn::IsNaN(m);
          for (size_t k = 1; k < s.pieces; ++k) {
            const V v = LoadPartial(d, x + x_offset + k * s.inner, n);
            const auto greater = hn::Gt(v, m);
            m = hn::IfThenElse(greater, v, m);
            winner =
                hn::IfThenElse(greater, hn::Set(d, static_cast<T>(k)), winner);
            nan = hn::Or(nan, hn::IsNaN(v));
          }
          emit(d, m, winner, nan, x_offset, (o * groups + gi) * s.inner + c, n);
        }
      }
    }
  };
  if (s.inner == 1) {
    run(hn::CappedTag<T, 1>());
  } else {
    run(hn::ScalableTag<T>());
  }
}

template <typename T>
void Forward(const T* x, T* y, const SliceShape& s) {
  ForEachGroup(
      x, s,
      [&](auto d, auto m, auto, auto nan, size_t, size_t y_offset, size_t n) {
        const auto out = hn::IfThenElse(
            nan, hn::Set(d, std::numeric_limits<T>::quiet_NaN()), m);
        StorePartial(d, out, y + y_offset, n);
      });
}

template <typename T>
void Derivative(const T* x, T* mask, const SliceShape& s) {
  ForEachGroup(
      x, s,
      [&](auto d, auto, auto winner, auto nan, size_t x_offset, size_t,
          size_t n) {
        for (size_t k = 0; k < s.pieces; ++k) {
          const auto one = hn::IfThenElseZero(
              hn::Eq(winner, hn::Set(d, static_cast<T>(k))), hn::Set(d, 1));
          const auto out = hn::IfThenElse(
              nan, hn::Set(d, std::numeric_limits<T>::quiet_NaN()), one);
          StorePartial(d, out, mask + x_offset + k * s.inner, n);
        }
      });
}

template <typename T>
void Backward(const T* x, const T* g, T* gx, const SliceShape& s) {
  ForEachGroup(x, s,
               [&](auto d, auto, auto winner, auto nan, size_t x_offset,
                   size_t y_offset, size_t n) {
                 const auto gv = LoadPartial(d, g + y_offset, n);
                 for (size_t k = 0; k < s.pieces; ++k) {
                   const auto routed = hn::IfThenElseZero(
                       hn::Eq(winner, hn::Set(d, static_cast<T>(k))), gv);
                   const auto out = hn::IfThenElse(
                       nan, hn::Set(d, std::numeric_limits<T>::quiet_NaN()),
                       routed);
                   StorePartial(d, out, gx + x_offset + k * s.inner, n);
                 }
               });
}

ACTSERVE_DEFINE_AXIS_KERNELS

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_AXIS_KERNELS()

constexpr long double kNaN = std::numeric_limits<long double>::quiet_NaN();

// Index of the first NaN, else of the first maximum, of x[0, pieces).
size_t Winner(const long double* x, size_t pieces) {
  size_t w = 0;
  for (size_t k = 0; k < pieces; ++k) {
    if (std::isnan(x[k])) return k;
    if (x[k] > x[w]) w = k;
  }
  return w;
}

bool HasNaN(const long double* x, size_t pieces) {
  return std::any_of(x, x + pieces,
                     [](long double v) { return std::isnan(v); });
}

void RefForward(const long double* x, long double* y, size_t k, size_t pieces) {
  for (size_t i = 0; i < k / pieces; ++i) {
    y[i] = x[i * pieces + Winner(x + i * pieces, pieces)];
  }
}

void RefDerivative(const long double* x, long double* mask, size_t k,
                   size_t pieces) {
  for (size_t i = 0; i < k / pieces; ++i) {
    const long double* group = x + i * pieces;
    const size_t w = Winner(group, pieces);
    for (size_t j = 0; j < pieces; ++j) {
      mask[i * pieces + j] = HasNaN(group, pieces) ? kNaN : j == w ? 1 : 0;
    }
  }
}

void RefBackward(const long double* x, const long double* g, long double* gx,
                 size_t k, size_t pieces) {
  for (size_t i = 0; i < k / pieces; ++i) {
    const long double* group = x + i * pieces;
    const size_t w = Winner(group, pieces);
    for (size_t j = 0; j < pieces; ++j) {
      gx[i * pieces + j] = HasNaN(group, pieces) ? kNaN : j == w ? g[i] : 0;
    }
  }
}

}  // namespace

const ActivationDef& MaxoutActivation() {
  static const ActivationDef* const def = new ActivationDef{
      .name = "maxout",
      .kind = ActivationKind::kGrouped,
      .params = {{.id = ParamId::kAxis,
                  .default_value = -1,
                  .description = "the axis whose groups are reduced",
                  .domain = "-rank <= axis < rank"},
                 {.id = ParamId::kPieces,
                  .default_value = 2,
                  .description = "elements per group; the axis length must "
                                 "be a multiple",
                  .lower = 1,
                  .upper = 1 << 24,
                  .domain = "1 to 2^24 (group indices stay exact in float)"}},
      .formula = "max(x[k*pieces], ..., x[k*pieces + pieces - 1])",
      .derivative_formula =
          "1 for the first maximal element of its group, "
          "else 0",
      .description =
          "Maximum over groups of consecutive elements along an "
          "axis.",
      // Exact.
      .accuracy = {.ulp_f32 = 0, .ulp_f64 = 0},
      .axis_f32 = AxisKernelsF32(),
      .axis_f64 = AxisKernelsF64(),
      .axis_reference = {&RefForward, &RefDerivative, &RefBackward},
      .test_params = {{.axis = 0, .pieces = 3}, {.pieces = 1}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
