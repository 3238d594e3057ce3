#include "compiler/pt2/export_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/macros.h"
#include "compiler/pt2/pt2_archive_spec.h"

namespace kiln::compiler {
namespace {

using json = nlohmann::json;

absl::Status Bad(const std::string& ctx, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(ctx, ": ", msg));
}

const char* TypeName(const json& v) { return v.type_name(); }

absl::StatusOr<const json*> Field(const json& obj, const char* key, const std::string& ctx) {
  if (!obj.is_object()) return Bad(ctx, absl::StrCat("expected an object, got ", TypeName(obj)));
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(ctx, absl::StrCat("missing field '", key, "'"));
  return &*it;
}

// The field when present and not null, else nullptr.
const json* OptionalField(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<int64_t> AsInt(const json& v, const std::string& ctx) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad(ctx, absl::StrCat("integer ", u, " is out of range"));
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return Bad(ctx, absl::StrCat("expected an integer, got ", TypeName(v)));
}

absl::StatusOr<double> AsFloat(const json& v, const std::string& ctx) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    // torch's serializer writes non-finite floats as strings (json allow_nan=False).
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  return Bad(ctx, absl::StrCat("expected a float, got ", v.is_string() ? "string" : TypeName(v)));
}

absl::StatusOr<bool> AsBool(const json& v, const std::string& ctx) {
  if (v.is_boolean()) return v.get<bool>();
  return Bad(ctx, absl::StrCat("expected a bool, got ", TypeName(v)));
}

absl::StatusOr<std::string> AsString(const json& v, const std::string& ctx) {
  if (v.is_string()) return v.get<std::string>();
  return Bad(ctx, absl::StrCat("expected a string, got ", TypeName(v)));
}

absl::StatusOr<const json*> AsArray(const json& v, const std::string& ctx) {
  if (v.is_array()) return &v;
  return Bad(ctx, absl::StrCat("expected a list, got ", TypeName(v)));
}

// A schema _Union value: an object with exactly one key.
absl::StatusOr<std::pair<std::string, const json*>> Union(const json& v, const std::string& ctx) {
  if (!v.is_object() || v.size() != 1) {
    return Bad(ctx, absl::StrCat("expected a one-key union object, got ",
                                 v.is_object() ? absl::StrCat("an object with ", v.size(), " keys")
                                               : std::string(TypeName(v))));
  }
  return std::make_pair(v.begin().key(), &v.begin().value());
}

absl::StatusOr<std::string> TensorName(const json& v, const std::string& ctx) {
  KILN_ASSIGN_OR_RETURN(const json* name, Field(v, "name", ctx));
  KILN_ASSIGN_OR_RETURN(std::string s, AsString(*name, ctx + " name"));
  if (s.empty()) return Bad(ctx, "empty tensor name");
  return s;
}

// A SymInt: {"as_int": n} or {"as_expr": {...}} (symbolic: unsupported).
absl::StatusOr<int64_t> SymIntValue(const json& v, const std::string& ctx, const std::string& what) {
  KILN_ASSIGN_OR_RETURN(auto u, Union(v, absl::StrCat(ctx, " ", what)));
  if (u.first == "as_int") return AsInt(*u.second, absl::StrCat(ctx, " ", what));
  if (u.first == "as_expr") {
    std::string expr = "?";
    if (const json* e = OptionalField(*u.second, "expr_str"); e != nullptr && e->is_string()) {
      expr = e->get<std::string>();
    }
    // torch.export names the sizes it cannot know before running, such as nonzero's row count,
    // u0, u1, ... ("unbacked"); an input's dynamic dim is s0, s1, ...
    const size_t name = expr.rfind("Symbol('", 0) == 0 ? 8 : 0;
    if (expr.size() > name + 1 && expr[name] == 'u' && std::isdigit(static_cast<unsigned char>(expr[name + 1]))) {
      return absl::UnimplementedError(absl::StrCat(
          ctx, ": the output shape is data-dependent (", what, " is ", expr,
          ", known only from the tensor's values); Kiln compiles static shapes, so an op whose result size "
          "depends on the data (nonzero, masked_select, bincount, unique, ...) cannot run; torch.nonzero_static "
          "is nonzero with a fixed size"));
    }
    return absl::UnimplementedError(absl::StrCat(
        ctx, ": dynamic shapes are not supported yet (", what, " is symbolic: ", expr,
        "); export with static shapes"));
  }
  return Bad(ctx, absl::StrCat(what, ": unknown SymInt encoding '", u.first, "'"));
}

absl::StatusOr<TensorMeta> ParseTensorMeta(const json& v, const std::string& ctx) {
  TensorMeta m;
  KILN_ASSIGN_OR_RETURN(const json* dtype, Field(v, "dtype", ctx));
  KILN_ASSIGN_OR_RETURN(int64_t code, AsInt(*dtype, ctx + " dtype"));
  if (code < 0 || code > 1000) return Bad(ctx, absl::StrCat("invalid dtype code ", code));
  m.dtype = static_cast<TorchDType>(code);
  KILN_ASSIGN_OR_RETURN(const json* sizes_f, Field(v, "sizes", ctx));
  KILN_ASSIGN_OR_RETURN(const json* sizes, AsArray(*sizes_f, ctx + " sizes"));
  for (size_t i = 0; i < sizes->size(); ++i) {
    KILN_ASSIGN_OR_RETURN(int64_t s, SymIntValue((*sizes)[i], ctx, absl::StrCat("size[", i, "]")));
    if (s < 0) return Bad(ctx, absl::StrCat("negative size[", i, "] = ", s));
    m.sizes.push_back(s);
  }
  KILN_ASSIGN_OR_RETURN(const json* strides_f, Field(v, "strides", ctx));
  KILN_ASSIGN_OR_RETURN(const json* strides, AsArray(*strides_f, ctx + " strides"));
  for (size_t i = 0; i < strides->size(); ++i) {
    KILN_ASSIGN_OR_RETURN(int64_t s,
                          SymIntValue((*strides)[i], ctx, absl::StrCat("stride[", i, "]")));
    m.strides.push_back(s);
  }
  if (m.strides.size() != m.sizes.size()) {
    return Bad(ctx, absl::StrCat(m.sizes.size(), " sizes but ", m.strides.size(), " strides"));
  }
  if (const json* off = OptionalField(v, "storage_offset"); off != nullptr) {
    KILN_ASSIGN_OR_RETURN(m.storage_offset, SymIntValue(*off, ctx, "storage_offset"));
  }
  return m;
}

absl::StatusOr<Argument> ParseArgument(const json& v, const std::string& ctx) {
  KILN_ASSIGN_OR_RETURN(auto u, Union(v, ctx));
  const std::string& key = u.first;
  const json& x = *u.second;
  Argument a;
  auto ints = [&](const json& list, std::vector<int64_t>* out) -> absl::Status {
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(list, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(int64_t i, AsInt(e, ctx));
      out->push_back(i);
    }
    return absl::OkStatus();
  };
  if (key == "as_none") {
    a.kind = Argument::Kind::kNone;
  } else if (key == "as_tensor") {
    a.kind = Argument::Kind::kTensor;
    KILN_ASSIGN_OR_RETURN(a.tensor, TensorName(x, ctx));
  } else if (key == "as_optional_tensor") {
    KILN_ASSIGN_OR_RETURN(auto ou, Union(x, ctx));
    if (ou.first == "as_none") {
      a.kind = Argument::Kind::kNone;
    } else if (ou.first == "as_tensor") {
      a.kind = Argument::Kind::kTensor;
      KILN_ASSIGN_OR_RETURN(a.tensor, TensorName(*ou.second, ctx));
    } else {
      return Bad(ctx, absl::StrCat("unknown optional tensor encoding '", ou.first, "'"));
    }
  } else if (key == "as_tensors") {
    a.kind = Argument::Kind::kTensors;
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(x, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(std::string n, TensorName(e, ctx));
      a.tensors.push_back(std::move(n));
    }
  } else if (key == "as_optional_tensors") {
    a.kind = Argument::Kind::kOptionalTensors;
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(x, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(auto eu, Union(e, ctx));
      if (eu.first == "as_none") {
        a.tensors.emplace_back();
      } else if (eu.first == "as_tensor") {
        KILN_ASSIGN_OR_RETURN(std::string n, TensorName(*eu.second, ctx));
        a.tensors.push_back(std::move(n));
      } else {
        return Bad(ctx, absl::StrCat("unknown optional tensor encoding '", eu.first, "'"));
      }
    }
  } else if (key == "as_int") {
    a.kind = Argument::Kind::kInt;
    KILN_ASSIGN_OR_RETURN(a.i, AsInt(x, ctx));
  } else if (key == "as_ints") {
    a.kind = Argument::Kind::kInts;
    KILN_RETURN_IF_ERROR(ints(x, &a.ints));
  } else if (key == "as_float") {
    a.kind = Argument::Kind::kFloat;
    KILN_ASSIGN_OR_RETURN(a.f, AsFloat(x, ctx));
  } else if (key == "as_floats") {
    a.kind = Argument::Kind::kFloats;
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(x, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(double f, AsFloat(e, ctx));
      a.floats.push_back(f);
    }
  } else if (key == "as_bool") {
    a.kind = Argument::Kind::kBool;
    KILN_ASSIGN_OR_RETURN(a.b, AsBool(x, ctx));
  } else if (key == "as_bools") {
    a.kind = Argument::Kind::kBools;
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(x, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(bool b, AsBool(e, ctx));
      a.bools.push_back(b);
    }
  } else if (key == "as_string") {
    a.kind = Argument::Kind::kString;
    KILN_ASSIGN_OR_RETURN(a.s, AsString(x, ctx));
  } else if (key == "as_scalar_type" || key == "as_memory_format" || key == "as_layout") {
    a.kind = key == "as_scalar_type"     ? Argument::Kind::kScalarType
             : key == "as_memory_format" ? Argument::Kind::kMemoryFormat
                                         : Argument::Kind::kLayout;
    KILN_ASSIGN_OR_RETURN(a.i, AsInt(x, ctx));
  } else if (key == "as_device") {
    a.kind = Argument::Kind::kDevice;
    KILN_ASSIGN_OR_RETURN(const json* type, Field(x, "type", ctx));
    KILN_ASSIGN_OR_RETURN(a.s, AsString(*type, ctx + " device type"));
    if (const json* index = OptionalField(x, "index"); index != nullptr) {
      KILN_ASSIGN_OR_RETURN(int64_t idx, AsInt(*index, ctx + " device index"));
      absl::StrAppend(&a.s, ":", idx);
    }
  } else if ((key == "as_sym_int" || key == "as_sym_float" || key == "as_sym_bool") &&
             x.is_object() && x.size() == 1 &&
             (x.contains("as_int") || x.contains("as_float") || x.contains("as_bool"))) {
    // A SymInt/SymFloat/SymBool argument that holds a plain constant.
    if (x.contains("as_int")) {
      a.kind = Argument::Kind::kInt;
      KILN_ASSIGN_OR_RETURN(a.i, AsInt(x["as_int"], ctx));
    } else if (x.contains("as_float")) {
      a.kind = Argument::Kind::kFloat;
      KILN_ASSIGN_OR_RETURN(a.f, AsFloat(x["as_float"], ctx));
    } else {
      a.kind = Argument::Kind::kBool;
      KILN_ASSIGN_OR_RETURN(a.b, AsBool(x["as_bool"], ctx));
    }
  } else if (key == "as_sym_ints" && x.is_array() && [&] {
               for (const json& e : x) {
                 if (!e.is_object() || e.size() != 1 || !e.contains("as_int")) return false;
               }
               return true;
             }()) {
    a.kind = Argument::Kind::kInts;
    for (const json& e : x) {
      KILN_ASSIGN_OR_RETURN(int64_t i, AsInt(e["as_int"], ctx));
      a.ints.push_back(i);
    }
  } else {
    a.kind = Argument::Kind::kOther;
    a.s = key;
  }
  return a;
}

// Output value names of one entry of Node.outputs (flattened; "" for non-tensor returns).
absl::Status AppendOutputs(const json& v, const std::string& ctx, std::vector<std::string>* out) {
  KILN_ASSIGN_OR_RETURN(auto u, Union(v, ctx));
  if (u.first == "as_tensor") {
    KILN_ASSIGN_OR_RETURN(std::string n, TensorName(*u.second, ctx));
    out->push_back(std::move(n));
  } else if (u.first == "as_tensors") {
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(*u.second, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(std::string n, TensorName(e, ctx));
      out->push_back(std::move(n));
    }
  } else if (u.first == "as_optional_tensors") {
    KILN_ASSIGN_OR_RETURN(const json* arr, AsArray(*u.second, ctx));
    for (const json& e : *arr) {
      KILN_ASSIGN_OR_RETURN(auto eu, Union(e, ctx));
      if (eu.first == "as_tensor") {
        KILN_ASSIGN_OR_RETURN(std::string n, TensorName(*eu.second, ctx));
        out->push_back(std::move(n));
      } else {
        out->emplace_back();
      }
    }
  } else {
    out->emplace_back();  // as_none, as_sym_int, ...: not a tensor
  }
  return absl::OkStatus();
}

absl::StatusOr<AtenNode> ParseNode(const json& v, size_t index) {
  std::string ctx = absl::StrCat("node #", index);
  if (!v.is_object()) return Bad(ctx, absl::StrCat("expected an object, got ", TypeName(v)));
  AtenNode n;
  if (const json* name = OptionalField(v, "name"); name != nullptr) {
    KILN_ASSIGN_OR_RETURN(n.name, AsString(*name, ctx + " name"));
    ctx = absl::StrCat("node '", n.name, "'");
  }
  KILN_ASSIGN_OR_RETURN(const json* target, Field(v, "target", ctx));
  KILN_ASSIGN_OR_RETURN(n.target, AsString(*target, ctx + " target"));
  if (const json* meta = OptionalField(v, "metadata"); meta != nullptr) {
    if (const json* st = OptionalField(*meta, "stack_trace"); st != nullptr && st->is_string()) {
      n.stack_trace = st->get<std::string>();
    }
  }
  KILN_ASSIGN_OR_RETURN(const json* inputs_f, Field(v, "inputs", ctx));
  KILN_ASSIGN_OR_RETURN(const json* inputs, AsArray(*inputs_f, ctx + " inputs"));
  // with_effects(token, op, *args) orders a side-effecting op by threading an effect token through
  // the graph. The device runs one stream in program order, so the token means nothing here: the
  // node becomes `op` over its own arguments (positional, unnamed) and its results minus the token.
  size_t first_input = 0, first_output = 0;
  if (n.target == "torch.ops.higher_order.with_effects") {
    const json* op = inputs->size() >= 2 ? OptionalField((*inputs)[1], "arg") : nullptr;
    op = op ? OptionalField(*op, "as_operator") : nullptr;
    if (op == nullptr || !op->is_string())
      return Bad(ctx, "with_effects needs a token and an operator as its first two inputs");
    n.target = op->get<std::string>();
    first_input = 2;
    first_output = 1;
  }
  for (size_t i = first_input; i < inputs->size(); ++i) {
    const json& in = (*inputs)[i];
    NamedArgument na;
    const std::string ictx = absl::StrCat(ctx, " (", n.target, ") input #", i);
    KILN_ASSIGN_OR_RETURN(const json* name, Field(in, "name", ictx));
    KILN_ASSIGN_OR_RETURN(na.name, AsString(*name, ictx + " name"));
    KILN_ASSIGN_OR_RETURN(const json* arg, Field(in, "arg", ictx));
    KILN_ASSIGN_OR_RETURN(na.arg, ParseArgument(*arg, absl::StrCat(ctx, " (", n.target,
                                                                   ") argument '", na.name, "'")));
    n.inputs.push_back(std::move(na));
  }
  KILN_ASSIGN_OR_RETURN(const json* outputs_f, Field(v, "outputs", ctx));
  KILN_ASSIGN_OR_RETURN(const json* outputs, AsArray(*outputs_f, ctx + " outputs"));
  for (size_t i = first_output; i < outputs->size(); ++i) {
    KILN_RETURN_IF_ERROR(
        AppendOutputs((*outputs)[i], absl::StrCat(ctx, " (", n.target, ") output #", i), &n.outputs));
  }
  if (n.name.empty()) {
    // Older schema versions have no node name: use the first output's name, as FX would.
    for (const std::string& o : n.outputs) {
      if (!o.empty()) {
        n.name = o;
        break;
      }
    }
    if (n.name.empty()) n.name = absl::StrCat("node_", index);
  }
  return n;
}

absl::Status ParseSignature(const json& sig, const json& graph, AtenGraph* g) {
  const std::string ctx = "graph_module.signature";
  KILN_ASSIGN_OR_RETURN(const json* gin_f, Field(graph, "inputs", "graph_module.graph"));
  KILN_ASSIGN_OR_RETURN(const json* gin, AsArray(*gin_f, "graph_module.graph.inputs"));
  KILN_ASSIGN_OR_RETURN(const json* specs_f, Field(sig, "input_specs", ctx));
  KILN_ASSIGN_OR_RETURN(const json* specs, AsArray(*specs_f, ctx + ".input_specs"));
  if (specs->size() != gin->size()) {
    return Bad(ctx, absl::StrCat(specs->size(), " input specs but the graph has ", gin->size(),
                                 " inputs"));
  }
  for (size_t i = 0; i < specs->size(); ++i) {
    const std::string sctx = absl::StrCat("input spec #", i);
    KILN_ASSIGN_OR_RETURN(auto u, Union((*specs)[i], sctx));
    const std::string& kind = u.first;
    const json& spec = *u.second;
    GraphInput in;
    KILN_ASSIGN_OR_RETURN(const json* arg, Field(spec, "arg", sctx + " (" + kind + ")"));
    const char* target_key = nullptr;
    if (kind == "user_input") {
      in.kind = InputKind::kUserInput;
      KILN_ASSIGN_OR_RETURN(auto au, Union(*arg, sctx + " (user_input) arg"));
      if (au.first != "as_tensor") {
        return absl::UnimplementedError(absl::StrCat(
            sctx, ": user input is '", au.first,
            "'; only tensor inputs are supported (non-tensor inputs should be specialized away)"));
      }
      KILN_ASSIGN_OR_RETURN(in.name, TensorName(*au.second, sctx));
    } else if (kind == "parameter" || kind == "buffer" || kind == "tensor_constant") {
      in.kind = kind == "parameter"  ? InputKind::kParameter
                : kind == "buffer"   ? InputKind::kBuffer
                                     : InputKind::kConstantTensor;
      target_key = kind == "parameter" ? "parameter_name"
                   : kind == "buffer"  ? "buffer_name"
                                       : "tensor_constant_name";
      KILN_ASSIGN_OR_RETURN(in.name, TensorName(*arg, sctx + " (" + kind + ")"));
      KILN_ASSIGN_OR_RETURN(const json* t, Field(spec, target_key, sctx + " (" + kind + ")"));
      KILN_ASSIGN_OR_RETURN(in.target, AsString(*t, sctx + " " + target_key));
      if (in.target.empty()) return Bad(sctx, absl::StrCat("empty ", target_key));
    } else if (kind == "token") {
      continue;  // effect tokens order side effects; with_effects nodes drop them (ParseNode)
    } else {
      std::string what;
      if (const json* n = OptionalField(*arg, "name"); n != nullptr && n->is_string()) {
        what = absl::StrCat(" ('", n->get<std::string>(), "')");
      }
      return absl::UnimplementedError(absl::StrCat(sctx, what, " is a '", kind,
                                                   "' input, which is not supported"));
    }
    // The graph's placeholder list must agree with the signature.
    KILN_ASSIGN_OR_RETURN(auto gu, Union((*gin)[i], absl::StrCat("graph input #", i)));
    std::string gname;
    if (gu.first == "as_tensor") {
      KILN_ASSIGN_OR_RETURN(gname, TensorName(*gu.second, absl::StrCat("graph input #", i)));
    }
    if (gname != in.name) {
      return Bad(sctx, absl::StrCat("names value '", in.name, "' but graph input #", i, " is ",
                                    gname.empty() ? "'" + gu.first + "'" : "'" + gname + "'"));
    }
    g->inputs.push_back(std::move(in));
  }

  KILN_ASSIGN_OR_RETURN(const json* ospecs_f, Field(sig, "output_specs", ctx));
  KILN_ASSIGN_OR_RETURN(const json* ospecs, AsArray(*ospecs_f, ctx + ".output_specs"));
  for (size_t i = 0; i < ospecs->size(); ++i) {
    const std::string sctx = absl::StrCat("output spec #", i);
    KILN_ASSIGN_OR_RETURN(auto u, Union((*ospecs)[i], sctx));
    const json& spec = *u.second;
    if (u.first == "token") continue;  // the effect token a program returns; see ParseNode
    if (u.first == "user_input_mutation" || u.first == "buffer_mutation") {
      // (new value, what it mutates): a user input by its graph name, or a buffer by its target.
      const bool buffer = u.first == "buffer_mutation";
      const std::string mctx = absl::StrCat(sctx, " (", u.first, ")");
      const char* key = buffer ? "buffer_name" : "user_input_name";
      KILN_ASSIGN_OR_RETURN(const json* arg, Field(spec, "arg", mctx));
      KILN_ASSIGN_OR_RETURN(std::string value, TensorName(*arg, mctx));
      KILN_ASSIGN_OR_RETURN(const json* name_f, Field(spec, key, mctx));
      KILN_ASSIGN_OR_RETURN(std::string name, AsString(*name_f, absl::StrCat(mctx, " ", key)));
      const bool known = std::any_of(g->inputs.begin(), g->inputs.end(), [&](const GraphInput& in) {
        return buffer ? in.kind == InputKind::kBuffer && in.target == name
                      : in.kind == InputKind::kUserInput && in.name == name;
      });
      if (!known)
        return Bad(mctx, absl::StrCat("mutates '", name, "', which is not a ", buffer ? "buffer input" : "user input"));
      auto& mutations = buffer ? g->buffer_mutations : g->input_mutations;
      for (const auto& [other, mutated] : mutations)
        if (mutated == name) return Bad(mctx, absl::StrCat("mutates '", name, "' a second time"));
      mutations.emplace_back(std::move(value), std::move(name));
      continue;
    }
    if (u.first != "user_output") {
      std::string what;
      for (const char* key : {"buffer_name", "parameter_name", "user_input_name"}) {
        if (const json* n = OptionalField(spec, key); n != nullptr && n->is_string()) {
          what = absl::StrCat(" (", key, " '", n->get<std::string>(), "')");
        }
      }
      return absl::UnimplementedError(absl::StrCat(
          sctx, " is a '", u.first, "' output", what,
          ", which is not supported: only user outputs are",
          ""));
    }
    KILN_ASSIGN_OR_RETURN(const json* arg, Field(spec, "arg", sctx + " (user_output)"));
    KILN_ASSIGN_OR_RETURN(auto au, Union(*arg, sctx + " (user_output) arg"));
    if (au.first != "as_tensor") {
      return absl::UnimplementedError(absl::StrCat(sctx, ": user output is '", au.first,
                                                   "'; only tensor outputs are supported"));
    }
    KILN_ASSIGN_OR_RETURN(std::string name, TensorName(*au.second, sctx));
    g->outputs.push_back(std::move(name));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> ParseJson(std::string_view text) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", e.what()));
  }
}

// The export schema's major version must be the one this parser reads; any minor version of it is
// read (minor versions only add fields).
absl::Status CheckSchemaVersion(const json& doc) {
  KILN_ASSIGN_OR_RETURN(const json* v, Field(doc, "schema_version", "exported program"));
  KILN_ASSIGN_OR_RETURN(const json* major_f, Field(*v, "major", "schema_version"));
  KILN_ASSIGN_OR_RETURN(const json* minor_f, Field(*v, "minor", "schema_version"));
  KILN_ASSIGN_OR_RETURN(int64_t major, AsInt(*major_f, "schema_version.major"));
  KILN_ASSIGN_OR_RETURN(int64_t minor, AsInt(*minor_f, "schema_version.minor"));
  if (major != pt2_spec::kSupportedSchemaMajor) {
    return absl::UnimplementedError(absl::StrCat(
        "export schema version ", major, ".", minor, " is not supported; this reader supports ",
        pt2_spec::kSupportedSchemaMajor, ".x (written against ", pt2_spec::kSupportedSchemaMajor, ".",
        pt2_spec::kWrittenAgainstSchemaMinor, ", as saved by torch 2.14)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AtenGraph> ParseProgram(const json& doc) {
  KILN_RETURN_IF_ERROR(CheckSchemaVersion(doc));
  AtenGraph g;
  KILN_ASSIGN_OR_RETURN(const json* gm, Field(doc, "graph_module", "exported program"));
  KILN_ASSIGN_OR_RETURN(const json* graph, Field(*gm, "graph", "graph_module"));
  KILN_ASSIGN_OR_RETURN(const json* sig, Field(*gm, "signature", "graph_module"));
  KILN_RETURN_IF_ERROR(ParseSignature(*sig, *graph, &g));

  // Value metadata. Graph inputs first, so that a dynamic-shape error names a user input when it can.
  KILN_ASSIGN_OR_RETURN(const json* tv, Field(*graph, "tensor_values", "graph_module.graph"));
  if (!tv->is_object()) {
    return Bad("graph_module.graph.tensor_values",
               absl::StrCat("expected an object, got ", TypeName(*tv)));
  }
  for (const GraphInput& in : g.inputs) {
    auto it = tv->find(in.name);
    if (it == tv->end()) {
      return Bad(absl::StrCat("graph input '", in.name, "'"), "has no entry in tensor_values");
    }
    KILN_ASSIGN_OR_RETURN(g.values[in.name],
                          ParseTensorMeta(*it, absl::StrCat("value '", in.name, "'")));
  }
  for (auto it = tv->begin(); it != tv->end(); ++it) {
    if (g.values.count(it.key())) continue;
    KILN_ASSIGN_OR_RETURN(g.values[it.key()],
                          ParseTensorMeta(it.value(), absl::StrCat("value '", it.key(), "'")));
  }

  // Nodes, checking that every tensor is defined before use and defined once.
  KILN_ASSIGN_OR_RETURN(const json* nodes_f, Field(*graph, "nodes", "graph_module.graph"));
  KILN_ASSIGN_OR_RETURN(const json* nodes, AsArray(*nodes_f, "graph_module.graph.nodes"));
  std::set<std::string> defined, node_names;
  for (const GraphInput& in : g.inputs) {
    if (!defined.insert(in.name).second) {
      return Bad(absl::StrCat("graph input '", in.name, "'"), "defined twice");
    }
  }
  g.nodes.reserve(nodes->size());
  for (size_t i = 0; i < nodes->size(); ++i) {
    KILN_ASSIGN_OR_RETURN(AtenNode n, ParseNode((*nodes)[i], i));
    const std::string ctx = absl::StrCat("node '", n.name, "' (", n.target, ")");
    if (!node_names.insert(n.name).second) return Bad(ctx, "duplicate node name");
    for (const NamedArgument& na : n.inputs) {
      std::vector<std::string> used;
      if (na.arg.kind == Argument::Kind::kTensor) used.push_back(na.arg.tensor);
      if (na.arg.kind == Argument::Kind::kTensors ||
          na.arg.kind == Argument::Kind::kOptionalTensors) {
        used = na.arg.tensors;
      }
      for (const std::string& u : used) {
        if (!u.empty() && !defined.count(u)) {
          return Bad(ctx, absl::StrCat("argument '", na.name, "' uses value '", u,
                                       "', which is not defined before the node"));
        }
      }
    }
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      if (!defined.insert(o).second) {
        return Bad(ctx, absl::StrCat("output '", o, "' is already defined"));
      }
      if (!g.values.count(o)) {
        return Bad(ctx, absl::StrCat("output '", o, "' has no entry in tensor_values"));
      }
    }
    g.nodes.push_back(std::move(n));
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (!defined.count(g.outputs[i])) {
      return Bad(absl::StrCat("output spec #", i),
                 absl::StrCat("user output '", g.outputs[i], "' is not defined by the graph"));
    }
  }
  for (const auto& [value, input] : g.input_mutations) {
    if (!defined.count(value))
      return Bad(absl::StrCat("the mutation of input '", input, "'"),
                 absl::StrCat("value '", value, "' is not defined by the graph"));
  }
  for (const auto& [value, buffer] : g.buffer_mutations) {
    if (!defined.count(value))
      return Bad(absl::StrCat("the mutation of buffer '", buffer, "'"),
                 absl::StrCat("value '", value, "' is not defined by the graph"));
    // A buffer mutation is program state (a KV cache), except batch norm's running statistics: a
    // module exported in training mode updates them, and it was meant to be exported for inference.
    const AtenNode* producer = g.FindProducer(value);
    if (producer != nullptr && producer->target.find("batch_norm") != std::string::npos)
      return absl::UnimplementedError(absl::StrCat(
          "buffer '", buffer, "' is updated by node '", producer->name, "' (", producer->target,
          "): a training-mode module mutates its batch-norm statistics; call model.eval() before torch.export"));
  }
  return g;
}

absl::StatusOr<std::map<std::string, PayloadMeta>> ParsePayloadConfig(const json& doc) {
  std::map<std::string, PayloadMeta> out;
  KILN_ASSIGN_OR_RETURN(const json* config, Field(doc, "config", "payload config"));
  if (!config->is_object()) {
    return Bad("payload config", absl::StrCat("'config' is a ", TypeName(*config), ", not an object"));
  }
  for (auto it = config->begin(); it != config->end(); ++it) {
    const std::string ctx = absl::StrCat("entry '", it.key(), "'");
    PayloadMeta pm;
    KILN_ASSIGN_OR_RETURN(const json* path, Field(it.value(), "path_name", ctx));
    KILN_ASSIGN_OR_RETURN(pm.path_name, AsString(*path, ctx + " path_name"));
    if (const json* p = OptionalField(it.value(), "is_param"); p != nullptr) {
      KILN_ASSIGN_OR_RETURN(pm.is_param, AsBool(*p, ctx + " is_param"));
    }
    if (const json* p = OptionalField(it.value(), "use_pickle"); p != nullptr) {
      KILN_ASSIGN_OR_RETURN(pm.use_pickle, AsBool(*p, ctx + " use_pickle"));
    }
    if (const json* tm = OptionalField(it.value(), "tensor_meta"); tm != nullptr) {
      absl::StatusOr<TensorMeta> meta = ParseTensorMeta(*tm, ctx);
      if (meta.ok()) {
        pm.tensor_meta = std::move(*meta);
      } else if (!pm.use_pickle) {
        return meta.status();  // a pickled entry's meta is informational only
      }
    }
    out.emplace(it.key(), std::move(pm));
  }
  return out;
}

}  // namespace

absl::StatusOr<AtenGraph> ParseExportedProgramJson(std::string_view json_text) {
  absl::StatusOr<json> doc = ParseJson(json_text);
  if (!doc.ok()) return doc.status();
  try {
    return ParseProgram(*doc);
  } catch (const json::exception& e) {  // defensive: accessors above check types first
    return absl::InvalidArgumentError(absl::StrCat("unexpected JSON structure: ", e.what()));
  }
}

absl::StatusOr<std::map<std::string, PayloadMeta>> ParsePayloadConfigJson(std::string_view json_text) {
  absl::StatusOr<json> doc = ParseJson(json_text);
  if (!doc.ok()) return doc.status();
  try {
    return ParsePayloadConfig(*doc);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected JSON structure: ", e.what()));
  }
}

}  // namespace kiln::compiler
