//! Sets the `Py_3_*` cfgs of the interpreter PyO3 builds against: the core
//! reads a few CPython structures whose meaning changed between versions.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
