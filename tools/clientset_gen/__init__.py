"""The generator of kcore's typed Clientset and TypedDicts, from a real kube-apiserver's
discovery and OpenAPI v3. Run ``./dev codegen-clientset``."""
