{
  "targets": [
    {
      "target_name": "ensdef_dnnl",
      "sources": ["ensdef_dnnl.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
