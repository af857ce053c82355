// maxout along an axis: each group of `pieces` consecutive elements reduces
// to its maximum (Goodfellow et al. 2013, the max over linear pieces; the
// pieces are computed upstream). The axis shrinks `pieces`-fold.
//
// Exact: the result is one of the inputs. The winner of a group is its first
// maximal element (ties go to the first, as PyTorch's max); the derivative is
// a 0/1 mask marking it and backward routes g to it. +-inf compare like any
// value (a group of -inf gives -inf, its first element the winner). A group
// holding NaN is NaN in every mode (forward, all of its mask entries, all of
// its gx).
// With inner > 1 the vectors run over inner. With inner == 1 the elements of
// a group are adjacent: groups of 2 and 4 (the common sizes) are split into
// one vector per piece by LoadInterleaved2/4, Lanes() groups at a time, and
// the results go back by StoreInterleaved2/4; other sizes are handled one
// group at a time (Highway 1.0.3 has no strided loads for general `pieces`).
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

// The first maximal element of each lane's group of kPieces vectors, by the
// rule of ForEachGroup: v[k] takes over the running max if it is greater; a
// NaN anywhere makes the group NaN.
template <class D, size_t kPieces>
struct GroupWinner {
  using M = hn::Mask<D>;
  hn::Vec<D> max;
  M nan;
  M wins[kPieces];  // the lanes whose winner is piece k

  HWY_INLINE GroupWinner(D d, const hn::Vec<D>* v)
      : max(v[0]), nan(hn::IsNaN(v[0])) {
    M greater[kPieces];
    for (size_t k = 1; k < kPieces; ++k) {
      greater[k] = hn::Gt(v[k], max);
      max = hn::IfThenElse(greater[k], v[k], max);
      nan = hn::Or(nan, hn::IsNaN(v[k]));
    }
    // Piece k wins where it took over and no later piece took over from it.
    M later = hn::FirstN(d, 0);
    for (size_t k = kPieces - 1; k >= 1; --k) {
      wins[k] = hn::AndNot(later, greater[k]);
      later = hn::Or(later, greater[k]);
    }
    wins[0] = hn::Not(later);
  }
};

template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> NaNOr(D d, hn::Mask<D> nan, hn::Vec<D> v) {
  return hn::IfThenElse(nan, hn::Set(d, std::numeric_limits<T>::quiet_NaN()),
                        v);
}

// Adjacent groups of kPieces (2 or 4), one vector per piece.
template <size_t kPieces, class D, typename T = hn::TFromD<D>>
HWY_INLINE void LoadPieces(D d, const T* p, hn::Vec<D>* v) {
  if constexpr (kPieces == 2) {
    hn::LoadInterleaved2(d, p, v[0], v[1]);
  } else {
    hn::LoadInterleaved4(d, p, v[0], v[1], v[2], v[3]);
  }
}

template <size_t kPieces, class D, typename T = hn::TFromD<D>>
HWY_INLINE void StorePieces(D d, const hn::Vec<D>* v, T* p) {
  if constexpr (kPieces == 2) {
    hn::StoreInterleaved2(v[0], v[1], d, p);
  } else {
    hn::StoreInterleaved4(v[0], v[1], v[2], v[3], d, p);
  }
}

// Groups of kPieces adjacent elements (inner == 1: all groups of the block
// are contiguous), Lanes() groups per step. Calls
//   emit(d, winner, group, n)
// for the n valid lanes starting at group index `group`; out-of-range lanes
// read 0 (their results are not stored).
template <size_t kPieces, typename T, class Emit>
void ForEachAdjacentGroups(const T* x, size_t groups, Emit emit) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const size_t lanes = hn::Lanes(d);
  for (size_t i = 0; i < groups; i += lanes) {
    const size_t n = std::min(lanes, groups - i);
    V v[kPieces];
    if (n == lanes) {
      LoadPieces<kPieces>(d, x + i * kPieces, v);
    } else {
      HWY_ALIGN T buf[kPieces * HWY_MAX_BYTES / sizeof(T)] = {};
      std::copy(x + i * kPieces, x + (i + n) * kPieces, buf);
      LoadPieces<kPieces>(d, buf, v);
    }
    emit(d, GroupWinner<decltype(d), kPieces>(d, v), i, n);
  }
}

// Stores the pieces of n groups, interleaved.
template <size_t kPieces, class D, typename T = hn::TFromD<D>>
HWY_INLINE void StorePiecesPartial(D d, const hn::Vec<D>* v, T* p, size_t n) {
  if (n == hn::Lanes(d)) return StorePieces<kPieces>(d, v, p);
  HWY_ALIGN T buf[kPieces * HWY_MAX_BYTES / sizeof(T)];
  StorePieces<kPieces>(d, v, buf);
  std::copy(buf, buf + n * kPieces, p);
}

template <size_t kPieces, typename T>
void AdjacentForward(const T* x, T* y, size_t groups) {
  ForEachAdjacentGroups<kPieces>(
      x, groups, [&](auto d, const auto& w, size_t group, size_t n) {
        StorePartial(d, NaNOr(d, w.nan, w.max), y + group, n);
      });
}

template <size_t kPieces, typename T>
void AdjacentDerivative(const T* x, T* mask, size_t groups) {
  ForEachAdjacentGroups<kPieces>(
      x, groups, [&](auto d, const auto& w, size_t group, size_t n) {
        hn::Vec<decltype(d)> out[kPieces];
        for (size_t k = 0; k < kPieces; ++k) {
          out[k] =
              NaNOr(d, w.nan, hn::IfThenElseZero(w.wins[k], hn::Set(d, 1)));
        }
        StorePiecesPartial<kPieces>(d, out, mask + group * kPieces, n);
      });
}

template <size_t kPieces, typename T>
void AdjacentBackward(const T* x, const T* g, T* gx, size_t groups) {
  ForEachAdjacentGroups<kPieces>(
      x, groups, [&](auto d, const auto& w, size_t group, size_t n) {
        const auto gv = LoadPartial(d, g + group, n);
        hn::Vec<decltype(d)> out[kPieces];
        for (size_t k = 0; k < kPieces; ++k) {
          out[k] = NaNOr(d, w.nan, hn::IfThenElseZero(w.wins[k], gv));
        }
        StorePiecesPartial<kPieces>(d, out, gx + group * kPieces, n);
      });
}

// Any `pieces` and inner: finds each group's winner and calls
//   emit(d, max, winner, nan, x_offset, y_offset, lanes)
// where winner holds the index of the winning piece, x_offset is the group's
// first element and y_offset its output.
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

// Groups of 2 or 4 adjacent elements.
bool Adjacent(const SliceShape& s, size_t pieces) {
  return s.inner == 1 && s.pieces == pieces;
}

template <typename T>
void Forward(const T* x, T* y, const SliceShape& s) {
  const size_t groups = s.outer * s.axis_len / s.pieces;
  if (Adjacent(s, 2)) return AdjacentForward<2>(x, y, groups);
  if (Adjacent(s, 4)) return AdjacentForward<4>(x, y, groups);
  ForEachGroup(
      x, s,
      [&](auto d, auto m, auto, auto nan, size_t, size_t y_offset, size_t n) {
        StorePartial(d, NaNOr(d, nan, m), y + y_offset, n);
      });
}

template <typename T>
void Derivative(const T* x, T* mask, const SliceShape& s) {
  const size_t groups = s.outer * s.axis_len / s.pieces;
  if (Adjacent(s, 2)) return AdjacentDerivative<2>(x, mask, groups);
  if (Adjacent(s, 4)) return AdjacentDerivative<4>(x, mask, groups);
  ForEachGroup(
      x, s,
      [&](auto d, auto, auto winner, auto nan, size_t x_offset, size_t,
          size_t n) {
        for (size_t k = 0; k < s.pieces; ++k) {
          const auto one = hn::IfThenElseZero(
              hn::Eq(winner, hn::Set(d, static_cast<T>(k))), hn::Set(d, 1));
          StorePartial(d, NaNOr(d, nan, one), mask + x_offset + k * s.inner, n);
        }
      });
}

template <typename T>
void Backward(const T* x, const T* g, T* gx, const SliceShape& s) {
  const size_t groups = s.outer * s.axis_len / s.pieces;
  if (Adjacent(s, 2)) return AdjacentBackward<2>(x, g, gx, groups);
  if (Adjacent(s, 4)) return AdjacentBackward<4>(x, g, gx, groups);
  ForEachGroup(x, s,
               [&](auto d, auto, auto winner, auto nan, size_t x_offset,
                   size_t y_offset, size_t n) {
                 const auto gv = LoadPartial(d, g + y_offset, n);
                 for (size_t k = 0; k < s.pieces; ++k) {
                   const auto routed = hn::IfThenElseZero(
                       hn::Eq(winner, hn::Set(d, static_cast<T>(k))), gv);
                   StorePartial(d, NaNOr(d, nan, routed),
                                gx + x_offset + k * s.inner, n);
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
