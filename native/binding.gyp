{
  "targets": [
    {
      "target_name": "ensdef_dnnl",
      "sources": ["src/addon.cc", "src/convolution.cc", "src/matmul.cc", "src/pooling.cc", "src/elementwise.cc", "src/optimizer.cc", "src/conv-pool.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
