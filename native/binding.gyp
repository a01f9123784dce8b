{
  "targets": [
    {
      "target_name": "xbr_xsk",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/handles.cc",
        "src/umem.cc",
        "src/socket.cc",
        "src/ring.cc",
        "src/program.cc",
        "src/system.cc",
        "src/memory.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-Wno-missing-field-initializers",
                    "<!@(pkg-config --cflags libxdp libbpf)"],
      "libraries": ["<!@(pkg-config --libs libxdp libbpf)"]
    },
    {
      "target_name": "xbr_udp",
      "sources": ["udp/udp.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-Wno-missing-field-initializers"]
    }
  ]
}
