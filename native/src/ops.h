// The elementwise ops, named once: the C++ switch and the names JavaScript passes both come from this
// list (src/backend/native-addon.ts types the same names and checks them against elementwiseOps() on load).
#pragma once

#define ENSDEF_ELEMENTWISE_OPS(X) \
  X(multiply)                     \
  X(add)                          \
  X(addRow)                       \
  X(relu)                         \
  X(step)                         \
  X(sumRows)                      \
  X(maximum)                      \
  X(minimum)                      \
  X(equal)                        \
  X(greater)                      \
  X(less)                         \
  X(select)

namespace ensdef {

enum class ElementwiseOp {
#define ENSDEF_ENUM(name) name,
  ENSDEF_ELEMENTWISE_OPS(ENSDEF_ENUM)
#undef ENSDEF_ENUM
};

}  // namespace ensdef
