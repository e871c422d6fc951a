//! Criterion benchmarks of the native core, in an embedded interpreter:
//! `send` with N receivers against the same receivers called in a Rust loop,
//! and connect then disconnect of N receivers.
//!
//! Run with `make bench` (it points PyO3 at the project's virtualenv, which
//! has asgiref for the Python half of the package).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyTuple};

/// Make `fastdispatch` importable: its Python files from `python/`, its
/// native module built in-process.
fn load_fastdispatch(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let sys = py.import("sys")?;
    sys.getattr("path")?
        .call_method1("insert", (0, concat!(env!("CARGO_MANIFEST_DIR"), "/python")))?;
    // Registered before it is filled: filling it imports the package's
    // Python half, whose `__init__` imports the names added first.
    let native = PyModule::new(py, "fastdispatch._native")?;
    sys.getattr("modules")?.set_item("fastdispatch._native", &native)?;
    fastdispatch::init_module(&native)?;
    py.import("fastdispatch")
}

const RECEIVERS: &std::ffi::CStr =
    c"def make_receiver():\n    def receiver(sender, **kwargs):\n        return None\n    return receiver\n";

fn bench_send(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let fastdispatch = load_fastdispatch(py).expect("fastdispatch loads");
        let helpers = PyModule::from_code(py, RECEIVERS, c"receivers.py", c"receivers").expect("helpers");
        let make_receiver = helpers.getattr("make_receiver").expect("make_receiver");
        let mut group = c.benchmark_group("send");
        for n in [0usize, 1, 10, 100] {
            let signal = fastdispatch.getattr("Signal").and_then(|s| s.call0()).expect("signal");
            let receivers: Vec<_> = (0..n).map(|_| make_receiver.call0().expect("receiver")).collect();
            for receiver in &receivers {
                signal.call_method1("connect", (receiver,)).expect("connect");
            }
            let kwargs = PyDict::new(py);
            kwargs.set_item("a", 1).expect("kwargs");
            kwargs.set_item("b", 2).expect("kwargs");
            let send = signal.getattr("send").expect("send");
            group.bench_with_input(BenchmarkId::new("fastdispatch", n), &n, |b, _| {
                b.iter(|| send.call((py.None(),), Some(&kwargs)).expect("send"))
            });
            // The floor: the same receivers, called with the same arguments
            // through vectorcall, as `send` calls them, results dropped.
            let kwnames = PyTuple::new(py, ["signal", "sender", "a", "b"]).expect("kwnames");
            let values = [
                signal.clone(),
                py.None().into_bound(py),
                1i64.into_pyobject(py).expect("1").into_any(),
                2i64.into_pyobject(py).expect("2").into_any(),
            ];
            let args: Vec<*mut ffi::PyObject> = values.iter().map(|v| v.as_ptr()).collect();
            group.bench_with_input(BenchmarkId::new("floor", n), &n, |b, _| {
                b.iter(|| {
                    for receiver in &receivers {
                        // SAFETY: `args` holds live borrowed objects, one per name.
                        let result =
                            unsafe { ffi::PyObject_Vectorcall(receiver.as_ptr(), args.as_ptr(), 0, kwnames.as_ptr()) };
                        // SAFETY: a new reference (the receivers return None), or NULL.
                        unsafe { Bound::from_owned_ptr_or_err(py, result) }.expect("call");
                    }
                })
            });
        }
        group.finish();
    });
}

/// Connect then disconnect N distinct receivers: O(1) amortized per call.
fn bench_connect_disconnect(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let fastdispatch = load_fastdispatch(py).expect("fastdispatch loads");
        let helpers = PyModule::from_code(py, RECEIVERS, c"receivers.py", c"receivers").expect("helpers");
        let make_receiver = helpers.getattr("make_receiver").expect("make_receiver");
        let signal_class = fastdispatch.getattr("Signal").expect("Signal");
        let mut group = c.benchmark_group("connect_disconnect");
        for n in [10usize, 1_000, 10_000] {
            let receivers: Vec<_> = (0..n).map(|_| make_receiver.call0().expect("receiver")).collect();
            group.bench_with_input(BenchmarkId::new("fastdispatch", n), &n, |b, _| {
                b.iter(|| {
                    let signal = signal_class.call0().expect("signal");
                    for receiver in &receivers {
                        signal.call_method1("connect", (receiver,)).expect("connect");
                    }
                    for receiver in &receivers {
                        signal.call_method1("disconnect", (receiver,)).expect("disconnect");
                    }
                })
            });
        }
        group.finish();
    });
}

criterion_group!(benches, bench_send, bench_connect_disconnect);
criterion_main!(benches);
