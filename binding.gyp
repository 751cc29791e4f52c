{
  "targets": [
    {
      "target_name": "nprobe_native",
      "sources": [
        "native/addon.cc",
        "native/capture/engine.cc",
        "native/capture/expectations.cc",
        "native/capture/file_reader.cc",
        "native/capture/intercept.cc",
        "native/capture/nfqueue.cc",
        "native/decode/decoder.cc",
        "native/decode/ip_frag.cc",
        "native/flow/flow_table.cc",
        "native/export/json_lines.cc",
        "native/export/lua_batch.cc",
        "native/reassembly/tcp_stream.cc",
        "native/dissect/dissector.cc",
        "native/dissect/list.cc",
        "native/dissect/dns.cc",
        "native/dissect/dhcp.cc",
        "native/dissect/radius.cc",
        "native/dissect/sip.cc",
        "native/dissect/gtpc.cc",
        "native/dissect/http.cc",
        "native/dissect/smtp.cc",
        "native/dissect/imap.cc",
        "native/dissect/pop.cc",
        "native/dissect/ftp.cc",
        "native/dissect/dns_tcp.cc",
        "native/dissect/sip_tcp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-lpcap", "-lnetfilter_queue"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", { "ldflags": ["-Wl,--as-needed"] }],
        # GCC zeroes a decoded packet (~170 bytes, every packet) with "rep stos", whose
        # start-up cost showed as ~2% of the capture thread; plain vector stores up to 256 bytes.
        ["target_arch=='x64'", { "cflags_cc": ["-mmemset-strategy=vector_loop:256:noalign,libcall:-1:noalign"] }]
      ]
    }
  ]
}
