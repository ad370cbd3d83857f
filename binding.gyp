{
  "targets": [
    {
      "target_name": "wirecap",
      "sources": [
        "src-native/addon.cc",
        "src-native/errors.cc",
        "src-native/loader/pcap_api.cc",
        "src-native/capture/capture_handle.cc",
        "src-native/capture/handle_methods.cc",
        "src-native/capture/live_open.cc",
        "src-native/capture/devices.cc",
        "src-native/capture/filter.cc",
        "src-native/capture/packet_filter.cc",
        "src-native/dump/dump.cc",
        "src-native/dump/kernel_dump.cc",
        "src-native/files/capture_writer.cc",
        "src-native/files/file_open.cc",
        "src-native/files/file_reader.cc",
        "src-native/files/pcapng_reader.cc",
        "src-native/files/writer_handle.cc",
        "src-native/flows/flow_pass.cc",
        "src-native/replay/pacer.cc",
        "src-native/replay/replay_handle.cc",
        "src-native/replay/replay_thread.cc",
        "src-native/replay/send_queue.cc",
        "src-native/helper/helper_client.cc"
      ],
      "include_dirs": ["src-native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } },
      "conditions": [
        ["OS=='win'", {
          "sources": ["src-native/platform/platform_win.cc"],
          "libraries": ["-lws2_32"]
        }, {
          "sources": ["src-native/platform/platform_posix.cc"],
          "libraries": ["-ldl", "-lpthread"]
        }]
      ]
    },
    {
      "target_name": "wirecap-helper",
      "type": "executable",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "src-native/helper/helper_main.cc",
            "src-native/loader/pcap_api.cc",
            "src-native/platform/platform_posix.cc"
          ],
          "include_dirs": ["src-native"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fPIE"],
          "ldflags": ["-pie", "-Wl,-z,relro,-z,now"],
          "libraries": ["-ldl"]
        }]
      ]
    }
  ]
}
