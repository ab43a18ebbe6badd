"""What the test suite and the benchmarks share: the embedded stack on free ports
(`harness.stack`), helpers that drive streams against the real broker
(`harness.streaming`) and a small simulated world applied through the stream handlers
(`harness.worlds`). It stands beside the product, which never imports it."""
