// Runs native work on the libuv pool and settles a JS promise with the result. A thrown alignkit::Error
// rejects with an Error carrying its `code`; libtorch's own errors get ERR_TORCH.
#pragma once

#include <c10/util/Exception.h>
#include <napi.h>

#include <functional>
#include <vector>

#include "common/error.h"

namespace alignkit::binding {

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;

  // `keepAlive` holds JS values (typed arrays the work reads without copying) until the promise settles.
  static Napi::Promise start(Napi::Env env, Work work, ToJs toJs, const std::vector<Napi::Value>& keepAlive = {}) {
    auto* worker = new PromiseWorker(env, std::move(work), std::move(toJs));
    for (const Napi::Value& v : keepAlive) worker->keepAlive_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    worker->Queue();
    return worker->deferred_.Promise();
  }

 private:
  PromiseWorker(Napi::Env env, Work work, ToJs toJs)
      : Napi::AsyncWorker(env, "alignkit"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        toJs_(std::move(toJs)) {}

  void Execute() override {
    try {
      result_ = work_();
    } catch (const alignkit::Error& e) {
      fail(e.code(), e.what());
    } catch (const c10::Error& e) {
      fail("ERR_TORCH", e.what_without_backtrace());
    } catch (const std::exception& e) {
      fail("ERR_NATIVE", e.what());
    }
  }

  void OnOK() override {
    try {
      deferred_.Resolve(toJs_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& error) override {
    Napi::Error rejected = Napi::Error::New(Env(), error.Message());
    rejected.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(rejected.Value());
  }

  void fail(const std::string& code, const std::string& message) {
    code_ = code;
    SetError(message);
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs toJs_;
  Result result_{};
  std::string code_;
  std::vector<Napi::ObjectReference> keepAlive_;
};

}  // namespace alignkit::binding
