// N-API entry point: the NativeProbe class that src/native.ts loads. JS never runs per
// packet: the capture thread signals through a payload-less ThreadSafeFunction and JS pulls
// finished flows with readBatch() as one Buffer of encoded records (flow/flow_record.h).
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include "capture/engine.h"
#include "export/json_lines.h"
#include "export/lua_batch.h"
#include "reassembly/tcp_stream.h"
#include "util/ip_text.h"
#include "util/limits.h"

namespace {

using nprobe::Engine;
using nprobe::EngineConfig;

uint64_t get_u64(const Napi::Object& o, const char* key, uint64_t def) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return def;
  return uint64_t(o.Get(key).As<Napi::Number>().Int64Value());
}

class NativeProbe : public Napi::ObjectWrap<NativeProbe> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeProbe",
                                   {InstanceMethod("open", &NativeProbe::Open),
                                    InstanceMethod("start", &NativeProbe::Start),
                                    InstanceMethod("readBatch", &NativeProbe::ReadBatch),
                                    InstanceMethod("stop", &NativeProbe::Stop),
                                    InstanceMethod("abort", &NativeProbe::Abort),
                                    InstanceMethod("close", &NativeProbe::Close),
                                    InstanceMethod("stats", &NativeProbe::Stats),
                                    InstanceMethod("info", &NativeProbe::Info),
                                    InstanceMethod("isDone", &NativeProbe::IsDone),
                                    InstanceMethod("configureIntercept", &NativeProbe::ConfigureIntercept),
                                    InstanceMethod("readConns", &NativeProbe::ReadConns),
                                    InstanceMethod("setVerdicts", &NativeProbe::SetVerdicts)});
    exports.Set("NativeProbe", f);
    Napi::Array names = Napi::Array::New(env, nprobe::kAnomalyCount);
    for (size_t i = 0; i < nprobe::kAnomalyCount; i++)
      names.Set(uint32_t(i), nprobe::anomaly_name(static_cast<nprobe::Anomaly>(i)));
    exports.Set("anomalyNames", names);
    exports.Set("recordFixedSize", Napi::Number::New(env, double(nprobe::kRecordFixedSize)));
    exports.Set("connEventSize", Napi::Number::New(env, double(nprobe::kConnEventSize)));
    exports.Set("libpcapVersion", Napi::String::New(env, pcap_lib_version()));
    return exports;
  }

  explicit NativeProbe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProbe>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "NativeProbe(options) needs an options object").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EngineConfig c;
    c.source = o.Get("source").ToString().Utf8Value();
    c.is_file = o.Get("isFile").ToBoolean().Value();
    if (o.Has("filter") && o.Get("filter").IsString()) c.filter = o.Get("filter").As<Napi::String>().Utf8Value();
    c.snaplen = int(get_u64(o, "snaplen", 65535));
    c.promisc = !o.Has("promisc") || o.Get("promisc").ToBoolean().Value();
    c.max_flows = uint32_t(get_u64(o, "maxFlows", nprobe::limits::kDefaultMaxFlows));
    c.idle_us = get_u64(o, "idleTimeoutUs", 30'000'000);
    c.active_us = get_u64(o, "activeTimeoutUs", 120'000'000);
    c.queue_records = size_t(get_u64(o, "queueRecords", nprobe::limits::kDefaultQueueRecords));
    c.original_speed = o.Has("originalSpeed") && o.Get("originalSpeed").ToBoolean().Value();
    c.dissect = !o.Has("dissect") || o.Get("dissect").ToBoolean().Value();
    c.dissector_options.credentials = o.Has("credentials") && o.Get("credentials").ToBoolean().Value();
    c.queue_bypass = o.Has("queueBypass") && o.Get("queueBypass").ToBoolean().Value();
    engine_ = std::make_unique<Engine>(std::move(c));
  }

 private:
  Napi::Value Open(const Napi::CallbackInfo& info) {
    try {
      engine_->open();
    } catch (const nprobe::CaptureError& e) {
      Napi::Error err = Napi::Error::New(info.Env(), e.what());
      err.Set("code", Napi::String::New(info.Env(), "ECAPTURE"));
      err.ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  // start(onSignal): onSignal() is called (on the JS thread) when flows wait in the queue
  // or the capture has finished.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_) {
      Napi::Error::New(env, "already started").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    started_ = true;
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "nprobe-capture", 0, 1);
    engine_->start([this] { tsfn_.NonBlockingCall(); }, [this] { tsfn_.Release(); });
    return env.Undefined();
  }

  Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t max = info.Length() > 0 ? size_t(info[0].As<Napi::Number>().Uint32Value()) : 1024;
    max = std::min(max, nprobe::limits::kMaxBatchRecords);
    batch_.clear();
    size_t n = engine_->read_batch(batch_, max);
    if (n == 0) return env.Null();
    // The batch (u32 count, then the records: record.ts) is written into a buffer kept by the
    // probe, the dissectors' fields straight into it (no vector per record, no second copy),
    // and handed to JS as a view of it, valid until the next readBatch(): the pump reads the
    // next batch only once the sink is done with this one, and FlowBatch.release() then cuts
    // JS off from it. (A fresh Buffer per batch was fresh memory every time: its page faults
    // were ~8% of the JS thread.)
    std::vector<uint8_t>& out = batch_bytes_;
    out.resize(4);
    nprobe::put_le(out.data(), n, 4);
    for (auto& r : batch_) {
      const size_t at = out.size();
      out.resize(at + nprobe::kRecordFixedSize);
      out.insert(out.end(), r.ext.begin(), r.ext.end());
      engine_->finish_record(r, out);
      nprobe::encode_record_head(r, out.data() + at, uint32_t(out.size() - at - nprobe::kRecordFixedSize));
    }
    // Capped: a batch far larger than usual gets a buffer of its own, and the kept one goes.
    constexpr size_t kKeepBytes = 16u << 20;
    if (out.size() > kKeepBytes) {
      Napi::Buffer<uint8_t> own = Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
      std::vector<uint8_t>().swap(out);
      return own;
    }
    return Napi::Buffer<uint8_t>::New(env, out.data(), out.size());
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    engine_->stop();
    return info.Env().Undefined();
  }
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    engine_->abort();
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    engine_->abort();
    engine_->join();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    nprobe::EngineStats s = engine_->stats();
    Napi::Object o = Napi::Object::New(env);
    auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
    n("packets", s.packets);
    n("wireBytes", s.wire_bytes);
    n("ipPackets", s.ip_packets);
    n("nonIp", s.non_ip);
    n("undecodable", s.undecodable);
    n("fragments", s.fragments);
    n("reassembled", s.reassembled);
    n("fragUnattributed", s.frag_unattributed);
    n("tunneled", s.tunneled);
    n("flowsCreated", s.flows_created);
    n("flowsActive", s.flows_active);
    n("flowsExported", s.flows_exported);
    n("flowsEvicted", s.flows_evicted);
    n("queueDrops", s.queue_drops);
    n("queueDropPackets", s.queue_drop_packets);
    n("queueDepth", s.queue_depth);
    n("kernelRecv", s.kernel_recv);
    n("kernelDrop", s.kernel_drop);
    n("kernelIfDrop", s.kernel_ifdrop);
    o.Set("kernelStatsValid", Napi::Boolean::New(env, s.kernel_stats_valid));
    n("fileSize", s.file_size);
    n("filePos", s.file_pos);
    n("fragInFlight", s.frag_in_flight);
    n("fragBytes", s.frag_bytes);
    n("tableBytes", s.table_bytes);
    n("captureCpuUs", s.capture_cpu_us);
    n("readerCpuUs", s.reader_cpu_us);
    o.Set("fileReader", Napi::String::New(env, s.file_reader));
    n("tcpRetransmissions", s.tcp_retransmissions);
    n("tcpGaps", s.tcp_gaps);
    n("tcpGapBytes", s.tcp_gap_bytes);
    n("firstTsUs", s.first_ts_us);
    n("lastTsUs", s.last_ts_us);
    Napi::Object an = Napi::Object::New(env);
    for (size_t i = 0; i < nprobe::kAnomalyCount; i++)
      if (s.anomalies[i]) an.Set(nprobe::anomaly_name(static_cast<nprobe::Anomaly>(i)), Napi::Number::New(env, double(s.anomalies[i])));
    for (const auto& [name, n] : s.dissector_anomalies) an.Set(name, Napi::Number::New(env, double(n)));
    o.Set("anomalies", an);
    o.Set("running", Napi::Boolean::New(env, s.running));
    o.Set("done", Napi::Boolean::New(env, s.done));
    {
      // The connection hook, as the capture thread applied it.
      Napi::Object ic = Napi::Object::New(env);
      auto m = [&](const char* k, uint64_t v) { ic.Set(k, Napi::Number::New(env, double(v))); };
      m("conns", s.icpt_conns);
      m("pending", s.icpt_pending);
      m("fullDefaults", s.icpt_full_defaults);
      m("nativeTimeouts", s.icpt_native_timeouts);
      m("exportDefaults", s.icpt_export_defaults);
      m("none", s.icpt_applied[0]);
      m("pass", s.icpt_applied[1]);
      m("drop", s.icpt_applied[2]);
      m("check", s.icpt_applied[3]);
      m("reject", s.icpt_applied[4]);
      m("rstSent", s.icpt_rst_sent);
      m("rstFailed", s.icpt_rst_failed);
      m("nfAccepted", s.nf_accepted);
      m("nfDropped", s.nf_dropped);
      m("nfKernelDrops", s.nf_kernel_drops);
      o.Set("intercept", ic);
      o.Set("nfqueue", Napi::Boolean::New(env, s.nfqueue));
    }
    std::string w = engine_->warning();
    if (!w.empty()) o.Set("warning", Napi::String::New(env, w));
    return o;
  }

  // configureIntercept({ on, defaultVerdict, timeoutMs, rst }) — before start().
  Napi::Value ConfigureIntercept(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_ || info.Length() < 1 || !info[0].IsObject()) {
      Napi::Error::New(env, "configureIntercept(options) goes before start()").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    engine_->configure_intercept(o.Get("on").ToBoolean().Value(), uint8_t(get_u64(o, "defaultVerdict", 3)),
                                 get_u64(o, "timeoutMs", 1000) * 1000, o.Has("rst") && o.Get("rst").ToBoolean().Value());
    return env.Undefined();
  }

  // readConns(max) -> Buffer of connEventSize-byte events (capture/intercept.h), or null.
  Napi::Value ReadConns(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t max = info.Length() > 0 ? size_t(info[0].As<Napi::Number>().Uint32Value()) : 1024;
    max = std::min(max, nprobe::limits::kMaxConnBatch);
    conns_.clear();
    const size_t n = engine_->read_conns(conns_, max);
    if (n == 0) return env.Null();
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, n * nprobe::kConnEventSize);
    for (size_t i = 0; i < n; i++) nprobe::encode_conn_event(conns_[i], buf.Data() + i * nprobe::kConnEventSize);
    return buf;
  }

  // setVerdicts(ids: Float64Array | number[], codes: Uint8Array | number[]): FLOW_VERDICT codes.
  Napi::Value SetVerdicts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) {
      Napi::TypeError::New(env, "setVerdicts(ids, codes)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::vector<std::pair<uint64_t, uint8_t>> v;
    auto get = [](const Napi::Value& arr, uint32_t i) -> double {
      if (arr.IsTypedArray()) {
        Napi::TypedArray t = arr.As<Napi::TypedArray>();
        if (t.TypedArrayType() == napi_float64_array) return t.As<Napi::Float64Array>()[i];
        if (t.TypedArrayType() == napi_uint8_array) return t.As<Napi::Uint8Array>()[i];
        return 0;
      }
      return arr.As<Napi::Array>().Get(i).ToNumber().DoubleValue();
    };
    auto len = [](const Napi::Value& arr) -> uint32_t {
      if (arr.IsTypedArray()) return uint32_t(arr.As<Napi::TypedArray>().ElementLength());
      if (arr.IsArray()) return arr.As<Napi::Array>().Length();
      return 0;
    };
    const uint32_t n = std::min(len(info[0]), len(info[1]));
    v.reserve(n);
    for (uint32_t i = 0; i < n; i++) {
      const double id = get(info[0], i), code = get(info[1], i);
      if (!(id >= 1) || !(code >= 0 && code <= 4)) continue;  // nothing else is a verdict
      v.emplace_back(uint64_t(id), uint8_t(code));
    }
    if (!v.empty()) engine_->set_verdicts(v);
    return env.Undefined();
  }

  // True once the capture thread has queued its last flow (the queue may still hold some).
  Napi::Value IsDone(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), engine_->done());
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("linktype", Napi::Number::New(env, engine_->linktype()));
    o.Set("linktypeName", Napi::String::New(env, engine_->linktype_name()));
    return o;
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  std::vector<nprobe::FlowRecord> batch_;
  std::vector<uint8_t> batch_bytes_;  // what the last readBatch() handed out (see ReadBatch)
  std::vector<nprobe::ConnEvent> conns_;
  bool started_ = false;
};

// Test-only: runs one dissector over payloads given from JS, without a capture.
// testDissect(name, [{dir, data: Buffer, ts?, sport?, dport?}]) ->
//   { probe: [bool per payload], l7: number, fields: Buffer (record ext encoding), anomalies }
Napi::Value TestDissect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  const nprobe::DissectorInfo* d = nprobe::find_dissector(name);
  if (!d) {
    Napi::Error::New(env, "no dissector named " + name).ThrowAsJavaScriptException();
    return env.Null();
  }
  nprobe::DissectorAnomalyCounts counts;
  nprobe::set_thread_anomaly_counts(&counts);
  // Optional third argument: dissector options ({credentials}).
  nprobe::DissectorOptions opts;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    opts.credentials = o.Has("credentials") && o.Get("credentials").ToBoolean().Value();
  }
  nprobe::set_thread_dissector_options(&opts);
  std::unique_ptr<nprobe::Dissector> dis = d->create();
  Napi::Array pkts = info[1].As<Napi::Array>();
  Napi::Array probes = Napi::Array::New(env, pkts.Length());
  for (uint32_t i = 0; i < pkts.Length(); i++) {
    Napi::Object o = pkts.Get(i).As<Napi::Object>();
    if (o.Has("gap")) {
      // A stream hole of this many bytes in direction dir (TCP dissectors).
      dis->on_gap(int(get_u64(o, "dir", 0)), get_u64(o, "gap", 0));
      probes.Set(i, Napi::Boolean::New(env, false));
      continue;
    }
    Napi::Buffer<uint8_t> b = o.Get("data").As<Napi::Buffer<uint8_t>>();
    nprobe::Packet p;
    p.ip_version = 4;
    p.proto = d->ip_proto;
    p.sport = uint16_t(get_u64(o, "sport", 0));
    p.dport = uint16_t(get_u64(o, "dport", 0));
    p.has_ports = true;
    p.ts_us = get_u64(o, "ts", 0);
    p.payload = b.Data();
    p.payload_len = uint32_t(b.Length());
    probes.Set(i, Napi::Boolean::New(env, d->probe(b.Data(), uint32_t(b.Length()), p.sport, p.dport)));
    dis->on_payload(nprobe::PayloadCtx{p.ts_us, int(get_u64(o, "dir", 0)), b.Data(), uint32_t(b.Length()), &p});
  }
  std::vector<uint8_t> ext;
  {
    nprobe::FieldWriter w(ext);
    dis->on_export(w);
  }  // the writer's fields are in ext once it is gone
  Napi::Object out = Napi::Object::New(env);
  out.Set("probe", probes);
  out.Set("l7", Napi::Number::New(env, dis->l7_proto()));
  out.Set("fields", Napi::Buffer<uint8_t>::Copy(env, ext.data(), ext.size()));
  Napi::Array an = Napi::Array::New(env, dis->anomalies().size());
  for (size_t i = 0; i < dis->anomalies().size(); i++) an.Set(uint32_t(i), dis->anomalies()[i]);
  out.Set("anomalies", an);
  nprobe::set_thread_anomaly_counts(nullptr);
  nprobe::set_thread_dissector_options(nullptr);
  return out;
}

// Test-only: one direction of TCP reassembly.
// testReassemble([{seq, syn?, fin?, data: Buffer, wire?: number, ack?: number}]) ->
//   { data: Buffer (bytes delivered in order), gaps: [bytes...], events: [bits per segment] }
// An element with `ack` and no data stands for the peer acknowledging up to ack.
// testIpText(buf): the text the dissectors write for a 4- or 16-byte address (util/ip_text.h).
Napi::Value TestIpText(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  std::string s;
  if (b.Length() == 4) nprobe::append_ipv4(s, b.Data());
  else if (b.Length() == 16) nprobe::append_ipv6(s, b.Data());
  else Napi::TypeError::New(info.Env(), "testIpText: 4 or 16 bytes").ThrowAsJavaScriptException();
  return Napi::String::New(info.Env(), s);
}

Napi::Value TestReassemble(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct Collect final : nprobe::TcpStream::Sink {
    std::vector<uint8_t> bytes;
    std::vector<uint64_t> gaps;
    void data(const uint8_t* p, uint32_t n) override { bytes.insert(bytes.end(), p, p + n); }
    void gap(uint64_t n) override { gaps.push_back(n); }
  } sink;
  nprobe::TcpStream s;
  Napi::Array segs = info[0].As<Napi::Array>();
  Napi::Array events = Napi::Array::New(env, segs.Length());
  for (uint32_t i = 0; i < segs.Length(); i++) {
    Napi::Object o = segs.Get(i).As<Napi::Object>();
    uint32_t ev;
    if (o.Has("ack") && !o.Has("data")) {
      ev = s.acked(uint32_t(get_u64(o, "ack", 0)), sink);
    } else {
      Napi::Buffer<uint8_t> b = o.Get("data").As<Napi::Buffer<uint8_t>>();
      const uint32_t n = uint32_t(b.Length());
      ev = s.segment(uint32_t(get_u64(o, "seq", 0)), o.Has("syn") && o.Get("syn").ToBoolean().Value(),
                     o.Has("fin") && o.Get("fin").ToBoolean().Value(), b.Data(), n,
                     uint32_t(get_u64(o, "wire", n)), sink);
    }
    events.Set(i, Napi::Number::New(env, ev));
  }
  if (info.Length() > 1 && info[1].ToBoolean().Value()) s.flush(sink);
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, sink.bytes.data(), sink.bytes.size()));
  Napi::Array gaps = Napi::Array::New(env, sink.gaps.size());
  for (size_t i = 0; i < sink.gaps.size(); i++) gaps.Set(uint32_t(i), Napi::Number::New(env, double(sink.gaps[i])));
  out.Set("gaps", gaps);
  out.Set("events", events);
  out.Set("waiting", Napi::Number::New(env, s.waiting_bytes()));
  return out;
}

// Test-only: a TCP dissector's stream probe on given first bytes of each direction.
// testProbeStream(name, c2s: Buffer, s2c: Buffer, clientPort, serverPort) -> 1 | 0 | -1
Napi::Value TestProbeStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const nprobe::DissectorInfo* d = nprobe::find_dissector(info[0].As<Napi::String>().Utf8Value());
  if (!d || !d->probe_stream) {
    Napi::Error::New(env, "no TCP dissector of that name").ThrowAsJavaScriptException();
    return env.Null();
  }
  Napi::Buffer<uint8_t> c = info[1].As<Napi::Buffer<uint8_t>>(), s = info[2].As<Napi::Buffer<uint8_t>>();
  return Napi::Number::New(env, d->probe_stream(c.Data(), uint32_t(c.Length()), s.Data(), uint32_t(s.Length()),
                                                uint16_t(info[3].As<Napi::Number>().Uint32Value()),
                                                uint16_t(info[4].As<Napi::Number>().Uint32Value())));
}

// JSON lines for the JSON outputs, formatted from a readBatch() buffer on the JS thread
// (export/json_lines.h). L7 names come from JS once (plugins/l7.ts is their one source).
std::vector<std::string> g_l7_names;
std::vector<std::string> g_anomaly_names;

Napi::Value SetL7Names(const Napi::CallbackInfo& info) {
  Napi::Array a = info[0].As<Napi::Array>();
  g_l7_names.assign(a.Length(), std::string());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    g_l7_names[i] = v.IsString() ? v.As<Napi::String>().Utf8Value() : "Unknown";
  }
  return info.Env().Undefined();
}

// formatJson(batch: Buffer) -> { text: Buffer, ends: Uint32Array, fallback: Uint32Array }
// `text` is a view of a buffer rewritten by the next call: the JSON writer writes it at once
// (src/export/json.ts). A fresh buffer per batch was fresh memory every time, and its page
// faults cost the JS thread more than the formatting (over 10% of it with a Lua script).
nprobe::JsonLinesResult g_json_scratch;

Napi::Value FormatJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    Napi::TypeError::New(env, "formatJson(batch: Buffer)").ThrowAsJavaScriptException();
    return env.Null();
  }
  if (g_anomaly_names.empty())
    for (size_t i = 0; i < nprobe::kAnomalyCount; i++)
      g_anomaly_names.emplace_back(nprobe::anomaly_name(static_cast<nprobe::Anomaly>(i)));
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  nprobe::JsonLinesResult* res = &g_json_scratch;
  nprobe::format_json_lines(b.Data(), b.Length(), g_anomaly_names, g_l7_names, *res);
  Napi::Object o = Napi::Object::New(env);
  auto ends = Napi::Uint32Array::New(env, res->ends.size());
  if (!res->ends.empty()) std::memcpy(ends.Data(), res->ends.data(), res->ends.size() * 4);
  auto fb = Napi::Uint32Array::New(env, res->fallback.size());
  if (!res->fallback.empty()) std::memcpy(fb.Data(), res->fallback.data(), res->fallback.size() * 4);
  o.Set("ends", ends);
  o.Set("fallback", fb);
  // Capped: text far larger than usual is copied out, and the scratch gives its memory back.
  constexpr size_t kKeepBytes = 16u << 20;
  if (res->text.size() > kKeepBytes) {
    o.Set("text", Napi::Buffer<char>::Copy(env, res->text.data(), res->text.size()));
    res->text.release();
  } else if (res->text.size() == 0) {
    o.Set("text", Napi::Buffer<char>::New(env, 0));  // the scratch may hold no memory yet
  } else {
    o.Set("text", Napi::Buffer<char>::New(env, res->text.data(), res->text.size()));
  }
  return o;
}

// The Lua hooks' batches (export/lua_batch.h), one spec per Lua host, by id.
std::unordered_map<uint32_t, nprobe::LuaBatchSpec> g_lua_specs;
// Per spec: the last batch built (see LuaBatch).
struct LuaScratch {
  std::string bytes;
  std::vector<uint32_t> flows;
};
std::unordered_map<uint32_t, LuaScratch> g_lua_scratch;

// setLuaSpec(id, { pid, hooks: [{ index, l7: number[], keys: [{ src, int, name }] }] }) or
// setLuaSpec(id, null) to forget it. src: LuaKeySpec::Src.
Napi::Value SetLuaSpec(const Napi::CallbackInfo& info) {
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (info.Length() < 2 || !info[1].IsObject()) {
    g_lua_specs.erase(id);
    g_lua_scratch.erase(id);
    return info.Env().Undefined();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  nprobe::LuaBatchSpec spec;
  spec.pid = o.Get("pid").As<Napi::Number>().Int64Value();
  Napi::Array hooks = o.Get("hooks").As<Napi::Array>();
  for (uint32_t h = 0; h < hooks.Length(); h++) {
    Napi::Object ho = hooks.Get(h).As<Napi::Object>();
    nprobe::LuaHookSpec hs;
    hs.index = uint8_t(ho.Get("index").As<Napi::Number>().Uint32Value());
    Napi::Array keys = ho.Get("keys").As<Napi::Array>();
    for (uint32_t k = 0; k < keys.Length(); k++) {
      Napi::Object ko = keys.Get(k).As<Napi::Object>();
      nprobe::LuaKeySpec ks;
      ks.src = static_cast<nprobe::LuaKeySpec::Src>(ko.Get("src").As<Napi::Number>().Uint32Value());
      ks.is_int = ko.Get("int").ToBoolean().Value();
      if (ko.Get("name").IsString()) ks.ext_name = ko.Get("name").As<Napi::String>().Utf8Value();
      hs.keys.push_back(std::move(ks));
    }
    hs.prepare();
    Napi::Array l7 = ho.Get("l7").As<Napi::Array>();
    for (uint32_t j = 0; j < l7.Length(); j++) spec.by_l7[uint16_t(l7.Get(j).As<Napi::Number>().Uint32Value())] = hs;
  }
  g_lua_specs[id] = std::move(spec);
  return info.Env().Undefined();
}

// luaBatch(id, batch: Buffer) -> { bytes: Buffer, flows: Uint32Array } | null (JS path)
// `bytes` is a view of a buffer kept per spec and rewritten by the next call with the same id:
// the host copies it into wasm memory at once. (A fresh buffer per batch cost more than the
// batch itself: a few hundred KiB malloc'd, grown by doubling and page-faulted in every time.)

Napi::Value LuaBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto it = g_lua_specs.find(id);
  if (it == g_lua_specs.end() || info.Length() < 2 || !info[1].IsBuffer()) return env.Null();
  Napi::Buffer<uint8_t> b = info[1].As<Napi::Buffer<uint8_t>>();
  LuaScratch& scratch = g_lua_scratch[id];
  if (!nprobe::build_lua_batch(b.Data(), b.Length(), it->second, scratch.bytes, scratch.flows)) return env.Null();
  // Capped: a batch far larger than usual gives its memory back afterwards.
  constexpr size_t kKeepBytes = 8u << 20;
  Napi::Object o = Napi::Object::New(env);
  if (scratch.bytes.size() > kKeepBytes) {
    o.Set("bytes", Napi::Buffer<char>::Copy(env, scratch.bytes.data(), scratch.bytes.size()));
    std::string().swap(scratch.bytes);
  } else {
    o.Set("bytes", Napi::Buffer<char>::New(env, scratch.bytes.data(), scratch.bytes.size()));
  }
  auto fl = Napi::Uint32Array::New(env, scratch.flows.size());
  if (!scratch.flows.empty()) std::memcpy(fl.Data(), scratch.flows.data(), scratch.flows.size() * 4);
  o.Set("flows", fl);
  return o;
}

// exitAfter(code, ms): the process ends with `code` within ms, whatever Node is doing then.
// Called by the CLI once everything is written and closed. Node 20 can deadlock on its way
// out (nodejs/node#54918): the main thread drains the platform's tasks while a background
// compile task waits for a garbage collection only the main thread can run. The probe hit it
// now and then on short captures; a normal exit takes a few ms and never reaches the timer.
// exitAfter(code, 0) leaves at once, from the calling thread.
Napi::Value ExitAfter(const Napi::CallbackInfo& info) {
  const int code = info[0].As<Napi::Number>().Int32Value();
  const uint32_t ms = info[1].As<Napi::Number>().Uint32Value();
  if (ms == 0) _exit(code);
  std::thread([code, ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    _exit(code);
  }).detach();
  return info.Env().Undefined();
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("exitAfter", Napi::Function::New(env, ExitAfter));
  exports.Set("setLuaSpec", Napi::Function::New(env, SetLuaSpec));
  exports.Set("luaBatch", Napi::Function::New(env, LuaBatch));
  exports.Set("setL7Names", Napi::Function::New(env, SetL7Names));
  exports.Set("formatJson", Napi::Function::New(env, FormatJson));
  exports.Set("testDissect", Napi::Function::New(env, TestDissect));
  exports.Set("testProbeStream", Napi::Function::New(env, TestProbeStream));
  exports.Set("testReassemble", Napi::Function::New(env, TestReassemble));
  exports.Set("testIpText", Napi::Function::New(env, TestIpText));
  return NativeProbe::Init(env, exports);
}

}  // namespace

NODE_API_MODULE(nprobe_native, InitAll)
